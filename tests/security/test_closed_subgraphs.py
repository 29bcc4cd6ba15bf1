"""Finding 4: subgraphs answer the gateway only. In production every subgraph refuses GraphQL (and
with it `_service` and GraphiQL) without the gateway's secret header; the composition step reads
the schema in-process (infra/export_sdl.py) and needs no HTTP. A service's own routes (the platform
webhooks of customers, the links in messages of notifications) get a listener of their own that
serves nothing else. Depth, alias and token limits hold in every subgraph as well, in any mode."""

from __future__ import annotations

import json
import os
import time

import pytest

from services.customers import shopify
from shared.edge import GATEWAY_HEADER
from tests.stack import SERVICES, codes, subgraph_url, unique

SDL = "{ _service { sdl } }"
STORE = next(iter(shopify.parse_stores(os.environ.get("SHOPIFY_WEBHOOKS") or shopify.DEV_WEBHOOKS).values()))


async def test_a_production_subgraph_refuses_graphql_without_the_gateway_secret(http, edge):
    url = f"{edge.customers}/graphql"
    for headers in ({}, {GATEWAY_HEADER: "guess"}, edge.admin):
        response = await http.post(url, json={"query": SDL}, headers=headers)
        assert response.status_code == 403 and codes(response.json()) == ["FORBIDDEN"], response.text
    ide = await http.get(url, headers={"accept": "text/html"})
    assert ide.status_code == 403 and "graphiql" not in ide.text.lower()
    answered = await http.post(url, json={"query": SDL}, headers={GATEWAY_HEADER: edge.secret})
    assert "@key" in answered.json()["data"]["_service"]["sdl"]
    no_ide = await http.get(url, headers={"accept": "text/html", GATEWAY_HEADER: edge.secret})
    assert "graphiql" not in no_ide.text.lower()


async def test_through_the_gateway_a_closed_subgraph_answers_as_before(http, edge):
    customer_id = unique("c")
    upsert = 'mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }'
    response = await http.post(edge.gateway, headers=edge.admin, json={
        "query": upsert, "variables": {"i": {"id": customer_id, "email": f"{customer_id}@example.com"}}})
    assert response.json() == {"data": {"upsertCustomer": {"id": customer_id}}}
    read = await http.post(edge.gateway, headers=edge.admin, json={
        "query": "query($id: ID!) { customer(id: $id) { email } }", "variables": {"id": customer_id}})
    assert read.json()["data"]["customer"]["email"] == f"{customer_id}@example.com"


def signed(payload: dict, domain: str = STORE.domain) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    return body, {"content-type": "application/json", "x-shopify-shop-domain": domain,
                  "x-shopify-hmac-sha256": shopify.signature(STORE.secret, body)}


async def test_platform_webhooks_have_a_listener_that_serves_nothing_else(http, edge):
    body, headers = signed({"id": unique("sc"), "email": "webhook@example.com", "first_name": "Web"})
    taken = await http.post(f"{edge.customers_public}/webhooks/shopify/customers/create", content=body,
                            headers=headers)
    assert taken.status_code == 200, taken.text
    for path in ("/graphql", "/readyz"):
        assert (await http.post(f"{edge.customers_public}{path}", json={"query": SDL})).status_code in (404, 405)
    on_graphql_port = await http.post(f"{edge.customers}/webhooks/shopify/customers/create", content=body,
                                      headers=headers)
    assert on_graphql_port.status_code == 404


def nested(levels: int) -> str:
    query = "id"
    for _ in range(levels):
        query = f"reviews {{ edges {{ node {{ product {{ {query} }} }} }} }}"
    return f'{{ product(id: "p-1") {{ {query} }} }}'


@pytest.mark.parametrize("service", SERVICES)
async def test_every_subgraph_refuses_a_thousand_aliases_itself(gql, service):
    started = time.monotonic()
    body = await gql("{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }", url=subgraph_url(service))
    assert body.get("errors") and not body.get("data") and time.monotonic() - started < 2
    assert set(codes(body)) == {"BAD_USER_INPUT"}


async def test_a_subgraph_refuses_a_deep_document_itself(gql):
    body = await gql(nested(8), url=subgraph_url("reviews"))  # depth 34
    assert body.get("errors") and not body.get("data")
    assert set(codes(body)) == {"BAD_USER_INPUT"}
    assert not (await gql(nested(2), url=subgraph_url("reviews"))).get("errors")
