"""Finding 6: the console page carries a Content-Security-Policy, X-Frame-Options and
X-Content-Type-Options; the gateway takes JSON bodies only (GraphQL over HTTP's media types), so a
form posted from any page is refused unread; shop domains in webhook headers must be the canonical
name the configuration holds (lowercase, no padding): one normalisation, at configuration time."""

from __future__ import annotations

import json
import os

import pytest

from services.customers import shopify
from tests.stack import ADMIN, INGEST, gateway_url, port, unique

STORE = next(iter(shopify.parse_stores(os.environ.get("SHOPIFY_WEBHOOKS") or shopify.DEV_WEBHOOKS).values()))


@pytest.mark.parametrize("path", ["/", "/demo"])
async def test_console_pages_carry_a_content_security_policy(http, path):
    response = await http.get(f"http://127.0.0.1:{port('console')}{path}")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
                      "base-uri 'none'"):
        assert directive in policy, policy
    assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
    assert f":{port('gateway')}" in policy  # connect-src: the gateway the page talks to
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


UPSERT = 'mutation { upsertCustomer(input: {id: "%s", email: "%s@example.com"}) { id } }'


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", lambda q: "query=" + q),
    ("text/plain", lambda q: json.dumps({"query": q})),
    ("application/graphql", lambda q: q),
    ("multipart/form-data; boundary=x", lambda q: f'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
                                                   f'{json.dumps({"query": q})}\r\n--x--\r\n'),
], ids=["form", "text", "graphql", "multipart"])
async def test_the_gateway_takes_json_bodies_only(http, content_type, body):
    customer_id = unique("c")
    response = await http.post(gateway_url(), content=body(UPSERT % (customer_id, customer_id)),
                               headers={**INGEST, "content-type": content_type})
    assert response.status_code == 415
    read = await http.post(gateway_url(), json={"query": 'query($id: ID!) { customer(id: $id) { id } }',
                                                "variables": {"id": customer_id}}, headers=ADMIN)
    assert read.json()["data"]["customer"] is None  # nothing ran


async def test_json_and_get_queries_still_work(http):
    assert (await http.post(gateway_url(), json={"query": "{ __typename }"})).json()["data"]
    assert (await http.get(gateway_url(), params={"query": "{ __typename }"})).json()["data"]


# Whitespace around a header value is not part of it (RFC 9110's OWS): the HTTP parser drops it.
@pytest.mark.parametrize("domain", [STORE.domain.upper(), STORE.domain.capitalize(), f"{STORE.domain}."],
                         ids=["upper", "capitalised", "trailing-dot"])
async def test_webhooks_take_the_canonical_shop_domain_only(http, domain):
    payload = json.dumps({"id": unique("sc"), "email": "d@example.com"}).encode()
    headers = {"content-type": "application/json", "x-shopify-hmac-sha256": shopify.signature(STORE.secret, payload)}
    url = f"http://127.0.0.1:{port('customers')}/webhooks/shopify/customers/create"
    refused = await http.post(url, content=payload, headers={**headers, "x-shopify-shop-domain": domain})
    taken = await http.post(url, content=payload, headers={**headers, "x-shopify-shop-domain": STORE.domain})
    assert (refused.status_code, taken.status_code) == (401, 200)
