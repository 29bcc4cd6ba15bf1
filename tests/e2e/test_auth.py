"""Who may read and write what, through the gateway and directly against each subgraph."""

from __future__ import annotations

import asyncio
import os
import time

import jwt
import pytest

from tests.e2e.conftest import RECORD, UPSERT, order_input
from tests.stack import (
    ADMIN,
    INGEST,
    SERVICES,
    TEST_SHOP,
    codes,
    customer_token,
    db,
    gateway_url,
    new_shop,
    subgraph_url,
    unique,
)

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
    body = await gql("{ me { id email } }", headers=other_shop)
    assert codes(body) == ["NOT_FOUND"] and body["data"]["me"] is None  # same id, other shop: nothing shared


async def test_me_for_an_id_the_shop_never_sent_is_not_found_and_leaves_nothing_behind(gql, new_customer):
    """docs/auth.md: a valid token for a customer the shop never upserted answers NOT_FOUND; no
    subgraph is asked for the person, so no referral code, account or contact is made for it."""
    stranger = unique("c")
    everything = "{ me { id loyalty { balance } referralCode referralLink notificationPreferences { locale } } }"
    body = await gql(everything, headers=customer_token(stranger))
    assert codes(body) == ["NOT_FOUND"] and body["data"] == {"me": None}
    assert "upsertCustomer" in body["errors"][0]["message"]
    for service, table in (("referrals", "referral_codes"), ("points", "accounts"), ("notifications", "contacts")):
        conn = await db(service)
        try:
            assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE customer_id = $1", stranger) == 0, table
        finally:
            await conn.close()
    # once the shop sends the customer, the same token works
    await gql.ok(UPSERT, {"input": {"id": stranger, "email": f"{stranger}@example.com"}}, INGEST)
    assert (await gql.ok("{ me { id loyalty { balance } } }", headers=customer_token(stranger)))["me"] == {
        "id": stranger, "loyalty": {"balance": 0}}


async def test_me_for_an_erased_customer_is_not_found(gql, new_customer):
    customer = await new_customer()
    await gql.ok('mutation($id: ID!) { eraseCustomer(id: $id) }', {"id": customer["id"]}, ADMIN)
    body = await gql("{ me { id referralCode } }", headers=customer_token(customer["id"]))
    assert codes(body) == ["NOT_FOUND"] and body["data"] == {"me": None}


async def test_a_token_checked_once_is_still_answered_as_expired_once_its_time_is_up(http):
    """The gateway keeps the tokens it has checked (callers.ts, `verified`) but not past their exp and
    its 30 s of clock tolerance: a token accepted a moment ago is answered as expired once the
    tolerance has run out, as if it had never been seen."""
    shop, _ = new_shop()
    now = int(time.time())
    payload = {"sub": "c-1", "shop": shop, "exp": now - 27}  # the gateway accepts it until now + 3
    token = {"authorization": f"Bearer {jwt.encode(payload, os.environ['JWT_SECRET'], algorithm='HS256')}"}
    fresh = (await http.post(gateway_url(), headers=token, json={"query": "{ tiers { name } }"})).json()
    assert "extensions" not in fresh and fresh["data"]["tiers"], fresh
    await asyncio.sleep(now + 3.2 - time.time())
    stale = (await http.post(gateway_url(), headers=token, json={"query": "{ tiers { name } }"})).json()
    assert [w["code"] for w in stale["extensions"]["warnings"]] == ["TOKEN_EXPIRED"], stale


async def test_an_expired_token_still_reads_the_public_fields_of_its_shop_with_a_warning(http):
    """docs/auth.md: a genuine token past its exp is a stale storefront session, not an attack: the
    public fields answer (for the token's shop), the fields that need the token fail with
    UNAUTHENTICATED "token expired", and extensions.warnings says TOKEN_EXPIRED; HTTP 200."""
    shop, admin = new_shop()
    reward = (await http.post(gateway_url(), headers=admin, json={"query": """mutation { upsertReward(input:
        {name: "Only here", kind: FREE_SHIPPING, pointsCost: 300}) { id } }"""})).json()["data"]["upsertReward"]["id"]
    stale = customer_token("c-1", shop=shop, ttl=-3600)
    response = await http.post(gateway_url(), headers=stale, json={"query": "{ rewardsCatalog { id } me { id } }"})
    assert response.status_code == 200
    body = response.json()
    assert reward in {r["id"] for r in body["data"]["rewardsCatalog"]} and body["data"]["me"] is None
    assert [(e["extensions"]["code"], e["message"], e["path"]) for e in body["errors"]] == [
        ("UNAUTHENTICATED", "token expired: get a fresh one", ["me"])]
    assert [w["code"] for w in body["extensions"]["warnings"]] == ["TOKEN_EXPIRED"]

    public_only = (await http.post(gateway_url(), headers=stale, json={"query": "{ tiers { name } }"})).json()
    assert "errors" not in public_only and public_only["data"]["tiers"]
    assert [w["code"] for w in public_only["extensions"]["warnings"]] == ["TOKEN_EXPIRED"]
    # only an expired token warns; a forged one, expired or not, is still refused outright (HTTP 401)
    assert "extensions" not in (await http.post(gateway_url(), headers=customer_token("c-1", shop=shop),
                                                json={"query": "{ tiers { name } }"})).json()
    forged = await http.post(gateway_url(), headers=customer_token("c-1", shop=shop, ttl=-3600, secret="x" * 40),
                             json={"query": "{ tiers { name } }"})
    assert forged.status_code == 401 and codes(forged.json()) == ["UNAUTHENTICATED"]


async def test_a_token_without_exp_is_told_what_is_missing(http):
    token = jwt.encode({"sub": "c-1", "shop": TEST_SHOP}, os.environ["JWT_SECRET"], algorithm="HS256")
    response = await http.post(gateway_url(), headers={"authorization": f"Bearer {token}"},
                               json={"query": "{ tiers { name } }"})
    assert response.status_code == 401
    assert [(e["extensions"]["code"], e["message"]) for e in response.json()["errors"]] == [
        ("UNAUTHENTICATED", "invalid token: no 'exp' claim")]
