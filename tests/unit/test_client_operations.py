"""The documented example operations (clients/typescript/operations) are valid against the public
schema that the gateway serves (clients/typescript/schema.graphql, derived from the supergraph),
the widget and the console send the operations documented there, and an operation registered in
gateway/persisted/ under a documented name is that same document (so the generated type of a name is
the answer to its registered hash)."""

from __future__ import annotations

import re

import pytest
from graphql import OperationDefinitionNode, build_schema, parse, print_ast, validate

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
    assert {"RewardsPanel", "RedeemReward", "SubmitReview", "JoinChallenge"} <= _operation_names(widget) <= documented
    assert {"Program", "Challenges", "Leaderboard", "ModerationQueue", "CustomerLookup",
            "RetentionDashboard"} <= _operation_names(console) <= documented
    # and what the browser code sends is valid too
    for source in (widget, console):
        for query in re.findall(r"`((?:query|mutation)[^`]*)`", source):
            errors = validate(schema, parse(query))
            assert not errors, (query[:60], [e.message for e in errors])


def _operations(text: str) -> dict[str, str]:
    """Each named operation of a document, printed (comments and layout do not count)."""
    return {d.name.value: print_ast(d) for d in parse(text).definitions
            if isinstance(d, OperationDefinitionNode) and d.name}


def test_a_name_in_clients_and_in_the_persisted_operations_is_one_document():
    documented: dict[str, str] = {}
    for path in OPERATION_FILES:
        documented |= _operations(path.read_text())
    registered: dict[str, str] = {}
    for path in (ROOT / "gateway/persisted").glob("*.graphql"):
        registered |= _operations(path.read_text())
    both = documented.keys() & registered.keys()
    assert {"RewardsPanel", "RedeemReward", "PointsHistory", "RewardsCatalog"} <= both
    assert {name for name in both if documented[name] != registered[name]} == set()
    # every storefront example is registered: a shop running registered operations only can send each
    storefront = _operations((CLIENTS / "operations/storefront.graphql").read_text())
    assert storefront.keys() <= registered.keys()


def test_the_widget_sends_the_documented_documents():
    documented: dict[str, str] = {}
    for path in OPERATION_FILES:
        documented |= _operations(path.read_text())
    widget = (ROOT / "console/static/widget.js").read_text()
    sent = [_operations(query) for query in re.findall(r"`((?:query|mutation)[^`]*)`", widget)]
    assert sent and all(documented[name] == text for one in sent for name, text in one.items())


def test_the_rewards_panel_covers_the_widget_catalog_included():
    panel = _operations((ROOT / "gateway/persisted/RewardsPanel.graphql").read_text())["RewardsPanel"]
    for field in ("balance", "nextTier", "amountToNextTier", "offers(status: ACTIVE)", "referralLink", "pendingReviews",
                  "challengeProgress", "rewardsCatalog", "challenges(status: ACTIVE)"):
        assert field in panel, field


def test_the_operations_the_client_readmes_show_are_the_registered_ones():
    registered: dict[str, str] = {}
    for path in (ROOT / "gateway/persisted").glob("*.graphql"):
        registered |= _operations(path.read_text())
    shown: dict[str, str] = {}
    for readme in (ROOT / "clients/README.md", CLIENTS / "README.md"):
        for text in re.findall(r"[`']((?:query|mutation) [A-Z]\w*[^`']*)[`']", readme.read_text()):
            shown |= _operations(text)
    assert {"UpsertCustomer", "CheckCode", "RedeemCode", "ValidateRewardCode"} <= shown.keys()
    assert {name: text for name, text in shown.items() if registered.get(name) != text} == {}
