"""The committed SDL and supergraph are what the code says, they compose, and they carry the
contract names this far implemented."""

from __future__ import annotations

import subprocess
import sys

from graphql import build_schema

from tests.conftest import ROOT

SKELETON_CONTRACT = {
    "Query": {"me", "customer", "product"},
    "Mutation": {"upsertCustomer", "recordOrder", "updateOrderStatus", "adjustPoints"},
    "Customer": {"id", "email", "firstName", "locale", "birthday", "orders", "loyalty", "pointsHistory",
                 "referralCode", "referralLink", "reviews", "notifications"},
    "LoyaltyAccount": {"balance", "pending", "lifetimeEarned"},
    "Order": {"id", "status", "total", "placedAt"},
    "Review": {"id", "rating", "title", "body", "status", "verifiedBuyer", "incentivized", "mediaUrls",
               "createdAt", "product"},
    "Notification": {"id", "channel", "template", "status", "createdAt"},
    "Money": {"amount", "currency"},
}


def test_committed_subgraph_sdl_is_current():
    result = subprocess.run([sys.executable, "infra/export_sdl.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + "\nrun `make compose` and commit gateway/"


def test_committed_supergraph_composes_and_is_current():
    result = subprocess.run(["node", "compose.mjs", "--check"], cwd=ROOT / "gateway", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_persisted_operations_validate_and_their_manifest_is_current():
    result = subprocess.run(["node", "persist.mjs", "--check"], cwd=ROOT / "gateway", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr + "\nrun `make compose` and commit gateway/persisted/"


def test_supergraph_carries_the_contract_names_built_so_far():
    schema = build_schema((ROOT / "gateway" / "supergraph.graphql").read_text(), assume_valid=True,
                          assume_valid_sdl=True)
    missing = [f"{t}.{f}" for t, fields in SKELETON_CONTRACT.items() for f in fields
               if schema.get_type(t) is None or f not in schema.get_type(t).fields]  # type: ignore[union-attr]
    assert missing == []
