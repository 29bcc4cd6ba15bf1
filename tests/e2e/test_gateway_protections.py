"""What the gateway refuses before any subgraph works: callers over their rate, oversize bodies,
oversize documents; and the CORS answer storefronts need."""

from __future__ import annotations

import os
import secrets

from tests.stack import ADMIN, PUBLIC, codes, gateway_url, throttled


async def test_referral_lookups_are_rate_limited_per_client_address(gql, http, new_customer):
    customer = await new_customer()
    code = (await gql.ok('query($id: ID!) { customer(id: $id) { referralCode } }', {"id": customer["id"]},
                        ADMIN))["customer"]["referralCode"]
    query = "query($c: String!) { referralLanding(code: $c) { code } }"
    # Development trusts loopback as a proxy: the test stands where an ingress would (tests/security).
    client = {"x-forwarded-for": f"192.0.2.{secrets.randbelow(200) + 1}", **PUBLIC}
    answers = [await gql(query, {"c": code}, client) for _ in range(61)]
    assert all(not a.get("errors") for a in answers[:60])
    assert codes(answers[60]) == ["RATE_LIMITED"]
    throttled(await http.post(gateway_url(), json={"query": query, "variables": {"c": code}}, headers=client))
    assert not (await gql(query, {"c": code}, {"x-forwarded-for": "198.51.100.77", **PUBLIC})).get("errors")


async def test_lookups_through_a_fragment_or_an_alias_count_the_same(gql, new_customer):
    """The gateway asks a rate limiter only when the operation names one of its fields at its root
    (gateway/protections.ts): a fragment or an alias at the root must not slip past the limit."""
    customer = await new_customer()
    code = (await gql.ok('query($id: ID!) { customer(id: $id) { referralCode } }', {"id": customer["id"]},
                        ADMIN))["customer"]["referralCode"]
    by_fragment = "query($c: String!) { ...Look } fragment Look on Query { referralLanding(code: $c) { code } }"
    by_alias = "query($c: String!) { look: referralLanding(code: $c) { code } }"
    client = {"x-forwarded-for": f"192.0.2.{secrets.randbelow(200) + 1}", **PUBLIC}
    answers = [await gql(by_fragment if i % 2 else by_alias, {"c": code}, client) for i in range(61)]
    assert all(not a.get("errors") for a in answers[:60])
    assert codes(answers[60]) == ["RATE_LIMITED"]


async def test_oversize_bodies_are_refused_with_413(http):
    limit = int(os.environ.get("MAX_REQUEST_BYTES", "2000000"))
    response = await http.post(gateway_url(), json={"query": "{ __typename }", "padding": "x" * (limit + 1)})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_oversize_documents_are_refused(gql):
    many = " ".join(f"a{i}: __typename" for i in range(1200))
    body = await gql("{ " + many + " }")
    assert body.get("errors") and not body.get("data")


async def test_cors_preflight_allows_the_headers_storefronts_send(http):
    response = await http.options(gateway_url(), headers={
        "origin": "http://localhost:3000", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"})
    assert response.status_code in (200, 204)
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "x-api-key" in allowed and "x-shop" in allowed
