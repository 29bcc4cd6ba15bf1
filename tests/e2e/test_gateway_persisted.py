"""Persisted operations: the registered documents of gateway/persisted/ run by hash; with
PERSISTED_OPERATIONS=only nothing else runs. The stack's gateway is checked in the mode .env sets;
`only` is checked on a second gateway process in front of the same subgraphs."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.conftest import ROOT
from tests.gateways import gateway_process
from tests.stack import INGEST, codes, customer_token, gateway_url, unique

MANIFEST = json.loads((ROOT / "gateway" / "persisted" / "manifest.json").read_text())
HASHES = {op["name"]: op["id"] for op in MANIFEST["operations"]}
ARBITRARY = "{ tiers { name } }"


def by_hash(name: str, variables: dict | None = None) -> dict:
    """The request a client makes for a registered operation (Apollo's persistedQuery form)."""
    return {"variables": variables or {}, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": HASHES[name]}}}


@pytest.fixture(scope="module")
def only_gateway(stack):
    with gateway_process("persisted-only", PERSISTED_OPERATIONS="only") as url:
        yield url


def test_each_registered_id_is_the_sha256_of_its_body():
    assert len(HASHES) >= 10
    for op in MANIFEST["operations"]:
        assert op["id"] == hashlib.sha256(op["body"].encode()).hexdigest(), op["name"]
        assert (ROOT / "gateway" / "persisted" / f"{op['name']}.graphql").exists()


async def test_the_stack_gateway_serves_registered_operations_as_its_mode_says(http):
    mode = os.environ.get("PERSISTED_OPERATIONS", "off")
    arbitrary = (await http.post(gateway_url(), json={"query": ARBITRARY})).json()
    hashed = (await http.post(gateway_url(), json=by_hash("RewardsCatalog"))).json()
    if mode == "only":
        assert codes(arbitrary) == ["PERSISTED_QUERY_ID_REQUIRED"]
    else:
        assert not arbitrary.get("errors") and arbitrary["data"]["tiers"]
    if mode == "off":
        assert hashed.get("errors") and not hashed.get("data")
    else:
        assert not hashed.get("errors"), hashed
        assert [t["name"] for t in hashed["data"]["tiers"]] == [t["name"] for t in arbitrary["data"]["tiers"]]


async def test_only_mode_refuses_any_document_it_does_not_know(http, only_gateway):
    for body in ({"query": ARBITRARY},
                 {"query": "query RewardsCatalog { tiers { name } }"},  # a registered name is not enough
                 {"query": ARBITRARY, **by_hash("RewardsCatalog")}):  # nor a registered hash beside a document
        answer = (await http.post(only_gateway, json=body)).json()
        assert codes(answer) == ["PERSISTED_QUERY_ID_REQUIRED"], answer
        assert not answer.get("data")
    unknown = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}
    answer = (await http.post(only_gateway, json=unknown)).json()
    assert codes(answer) == ["PERSISTED_QUERY_NOT_IN_LIST"] and not answer.get("data")
    assert codes((await http.post(only_gateway, json={"variables": {}})).json()) == ["PERSISTED_QUERY_ID_REQUIRED"]


async def test_only_mode_runs_registered_operations_with_their_callers_credentials(http, only_gateway):
    customer_id = unique("c")
    upsert = by_hash("UpsertCustomer", {"input": {"id": customer_id, "email": f"{customer_id}@example.com",
                                                  "firstName": "Ida"}})
    answer = (await http.post(only_gateway, json=upsert, headers=INGEST)).json()
    assert answer == {"data": {"upsertCustomer": {"id": customer_id}}}

    panel = (await http.post(only_gateway, json=by_hash("RewardsPanel"), headers=customer_token(customer_id))).json()
    assert not panel.get("errors"), panel
    assert panel["data"]["me"]["id"] == customer_id and panel["data"]["me"]["firstName"] == "Ida"
    assert panel["data"]["me"]["loyalty"]["balance"] == 0
    assert panel["data"]["rewardsCatalog"] and isinstance(panel["data"]["challenges"], list)  # the widget's state

    # Hive's form: documentId in the body; and the callers' rights still hold for registered operations.
    anonymous = (await http.post(only_gateway, json={"documentId": HASHES["RewardsPanel"]})).json()
    assert codes(anonymous) == ["UNAUTHENTICATED"]
