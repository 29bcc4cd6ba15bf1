"""Who may read and write what, through the gateway and directly against each subgraph."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RECORD, order_input
from tests.stack import ADMIN, INGEST, SERVICES, codes, customer_token, subgraph_url

ME = "{ me { id loyalty { balance } } }"


async def test_no_credentials_is_unauthenticated(gql):
    assert codes(await gql(ME)) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("headers", [
    customer_token("c-1", secret="someone-elses-secret-0123456789abcdef01234567"),
    customer_token("c-1", ttl=-3600),
    {"authorization": "Bearer garbage"},
    {"x-api-key": "not-a-key"},
], ids=["forged", "expired", "garbage", "unknown-key"])
async def test_bad_credentials_are_unauthenticated(gql, headers):
    body = await gql(ME, headers=headers)
    assert body["errors"] and set(codes(body)) == {"UNAUTHENTICATED"}
    assert "Traceback" not in str(body)


async def test_a_forged_token_is_refused_even_on_public_fields(gql):
    body = await gql('{ product(id: "p-1") { id } }', headers=customer_token("c", secret="x" * 40))
    assert codes(body) == ["UNAUTHENTICATED"]
    assert (await gql.ok('{ product(id: "p-1") { id } }'))["product"]["id"] == "p-1"


async def test_customer_a_cannot_read_customer_b(gql, new_customer):
    a, b = await new_customer(), await new_customer()
    as_a = customer_token(a["id"])
    assert codes(await gql('query($id: ID!) { customer(id: $id) { email } }', {"id": b["id"]}, as_a)) == ["FORBIDDEN"]
    mine = await gql.ok("{ me { id email } }", headers=as_a)
    assert mine["me"] == {"id": a["id"], "email": a["email"]}


@pytest.mark.parametrize("service, field", [
    ("customers", "email"), ("points", "loyalty { balance }"), ("referrals", "referralCode"),
    ("reviews", "reviews { id }"), ("notifications", "notifications { edges { node { id } } }"),
])
async def test_each_subgraph_guards_its_entities(gql, new_customer, service, field):
    """Subgraphs check identity themselves: `_entities` asked directly for someone else fails."""
    a, b = await new_customer(), await new_customer()
    query = ('query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id ' + field + ' } } }')
    url = subgraph_url(service)
    for_b = {"r": [{"__typename": "Customer", "id": b["id"]}]}
    assert codes(await gql(query, for_b, customer_token(a["id"]), url=url)) == ["FORBIDDEN"]
    assert codes(await gql(query, for_b, url=url)) == ["UNAUTHENTICATED"]
    own = await gql.ok(query, {"r": [{"__typename": "Customer", "id": a["id"]}]}, customer_token(a["id"]), url=url)
    assert own["_entities"][0]["id"] == a["id"]
    admin = await gql.ok(query, for_b, ADMIN, url=url)
    assert admin["_entities"][0]["id"] == b["id"]


@pytest.mark.parametrize("service", SERVICES)
async def test_each_subgraph_answers_its_service_sdl(gql, service):
    data = await gql.ok("{ _service { sdl } }", url=subgraph_url(service))
    assert "@key" in data["_service"]["sdl"]


async def test_customers_cannot_ingest_and_ingest_cannot_administer(gql, new_customer):
    customer = await new_customer()
    body = await gql(RECORD, {"input": order_input(customer["id"])}, customer_token(customer["id"]))
    assert codes(body) == ["FORBIDDEN"]
    body = await gql('mutation { adjustPoints(customerId: "x", delta: 5, reason: "r", idempotencyKey: "k") '
                     '{ balance } }', headers=INGEST)
    assert codes(body) == ["FORBIDDEN"]
    body = await gql('query { customer(id: "x") { id } }', headers=INGEST)
    assert codes(body) == ["FORBIDDEN"]


async def test_shops_are_separate(gql, new_customer):
    customer = await new_customer()
    other_shop = customer_token(customer["id"], shop="brand-at")
    data = await gql.ok("{ me { id email } }", headers=other_shop)
    assert data["me"] == {"id": customer["id"], "email": None}  # same id, other shop: nothing shared
