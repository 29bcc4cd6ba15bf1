"""The documented example operations (clients/typescript/operations) are valid against the public
schema that the gateway serves (clients/typescript/schema.graphql, derived from the supergraph),
and the widget and the console send the operations documented there."""

from __future__ import annotations

import re

import pytest
from graphql import build_schema, parse, validate

from tests.conftest import ROOT

CLIENTS = ROOT / "clients" / "typescript"
OPERATION_FILES = sorted((CLIENTS / "operations").glob("*.graphql"))


@pytest.fixture(scope="module")
def schema():
    return build_schema((CLIENTS / "schema.graphql").read_text())


def test_there_are_storefront_and_admin_examples():
    assert {p.name for p in OPERATION_FILES} >= {"storefront.graphql", "admin.graphql"}


@pytest.mark.parametrize("path", OPERATION_FILES, ids=lambda p: p.name)
def test_example_operations_validate_against_the_public_schema(schema, path):
    errors = validate(schema, parse(path.read_text()))
    assert not errors, [e.message for e in errors]


def test_an_operation_off_the_contract_is_caught(schema):
    # The check itself can fail: a field the API does not have is reported.
    errors = validate(schema, parse("query { me { loyalty { balanse } } }"))
    assert errors and "balanse" in errors[0].message


def test_public_schema_keeps_the_federation_machinery_out(schema):
    text = (CLIENTS / "schema.graphql").read_text()
    assert "join__" not in text and "@link" not in text
    for name in ("me", "customer", "rewardsCatalog", "challenges", "retentionMetrics", "moderationQueue"):
        assert name in schema.query_type.fields


def _operation_names(text: str) -> set[str]:
    return set(re.findall(r"\b(?:query|mutation)\s+([A-Z]\w*)", text))


def test_the_widget_and_the_console_use_documented_operations(schema):
    documented = _operation_names("\n".join(p.read_text() for p in OPERATION_FILES))
    widget = (ROOT / "console/static/widget.js").read_text()
    console = (ROOT / "console/static/console.js").read_text()
    assert {"LoyaltyWidget", "RedeemReward", "SubmitReview", "JoinChallenge"} <= _operation_names(widget) <= documented
    assert {"Program", "Challenges", "Leaderboard", "ModerationQueue", "CustomerLookup",
            "RetentionDashboard"} <= _operation_names(console) <= documented
    # and what the browser code sends is valid too
    for source in (widget, console):
        for query in re.findall(r"`((?:query|mutation)[^`]*)`", source):
            errors = validate(schema, parse(query))
            assert not errors, (query[:60], [e.message for e in errors])
