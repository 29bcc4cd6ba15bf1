"""FLYWHEEL_ENV=production: no introspection and no "Did you mean …?" hints, on a second gateway
process in front of the same subgraphs; the stack's development gateway keeps both."""

from __future__ import annotations

import os
import secrets

import pytest

from tests.gateways import gateway_process
from tests.stack import INGEST, gateway_url

INTROSPECTION = ["{ __schema { queryType { name } types { name } } }",
                 '{ __type(name: "Customer") { name fields { name } } }']

# Each probe misspells a name the way someone mapping the API would; graphql-js answers each with a hint.
PROBES = [
    ("{ tierz { name } }", None, "tiers"),                                     # field
    ("{ challenges(statu: ACTIVE) { id } }", None, "status"),                  # argument
    ("{ challenges(status: ACTIV) { id } }", None, "ACTIVE"),                  # enum literal
    ("query($c: ChallengeStatu) { challenges(status: $c) { id } }", None, "ChallengeStatus"),  # type
    ('mutation($s: OrderStatus!) { updateOrderStatus(id: "o-1", status: $s) { id } }',
     {"s": "PAYED"}, "PAID"),                                                  # enum value in variables
]


@pytest.fixture(scope="module")
def production_gateway(stack):
    with gateway_process("production", FLYWHEEL_ENV="production", PERSISTED_OPERATIONS="off",
                         GATEWAY_SECRET=secrets.token_urlsafe(32)) as url:
        yield url


async def ask(http, url: str, query: str, variables: dict | None = None) -> dict:
    response = await http.post(url, json={"query": query, "variables": variables or {}}, headers=INGEST)
    assert response.status_code < 500
    return response.json()


def messages(body: dict) -> str:
    return " | ".join(e["message"] for e in body.get("errors", []))


async def test_production_refuses_introspection_but_answers_typename(http, production_gateway):
    for query in INTROSPECTION:
        body = await ask(http, production_gateway, query)
        assert body.get("errors") and not body.get("data"), body
        assert "introspection" in messages(body).lower()
    assert (await ask(http, production_gateway, "{ __typename }"))["data"] == {"__typename": "Query"}


async def test_production_errors_carry_no_suggestions(http, production_gateway):
    for query, variables, hint in PROBES:
        body = await ask(http, production_gateway, query, variables)
        assert body.get("errors"), query
        assert "Did you mean" not in messages(body) and f'"{hint}"' not in messages(body), messages(body)
        assert all(e.get("extensions", {}).get("code") for e in body["errors"]), body


@pytest.mark.skipif(os.environ.get("FLYWHEEL_ENV") == "production", reason="the stack's gateway runs in production")
async def test_development_keeps_introspection_and_suggestions(http):
    for query in INTROSPECTION:
        body = await ask(http, gateway_url(), query)
        assert not body.get("errors") and body["data"], body
    for query, variables, hint in PROBES:
        body = await ask(http, gateway_url(), query, variables)
        assert f'"{hint}"' in messages(body), query
        assert all(e.get("extensions", {}).get("code") for e in body["errors"]), body
