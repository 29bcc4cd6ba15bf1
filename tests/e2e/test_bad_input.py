"""Bad input gets a clear error and changes nothing."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RECORD, STATUS, UPSERT, order_input
from tests.stack import ADMIN, INGEST, codes, unique

ORDERS = 'query($id: ID!) { customer(id: $id) { orders { edges { node { id status } } } } }'


@pytest.mark.parametrize("over", [
    {"total": "-57.40"}, {"total": "12.345"}, {"total": "1e40"}, {"total": "lots"}, {"currency": "EURO"},
    {"lines": []}, {"lines": [{"productId": "p", "quantity": -1, "unitPrice": "1.00"}]},
    {"id": "x" * 500}, {"shippingTotal": "100.00"},
], ids=lambda o: next(iter(o)))
async def test_bad_orders_are_refused_and_nothing_is_stored(gql, new_customer, over):
    customer = await new_customer()
    body = await gql(RECORD, {"input": order_input(customer["id"], **over)}, INGEST)
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert (await gql.ok(ORDERS, {"id": customer["id"]}, ADMIN))["customer"]["orders"]["edges"] == []


async def test_wrong_types_are_refused(gql, new_customer):
    customer = await new_customer()
    order = order_input(customer["id"], lines=[{"productId": "p", "quantity": "two", "unitPrice": "1.00"}])
    body = await gql(RECORD, {"input": order}, INGEST)
    assert body.get("errors") and not body.get("data")
    assert (await gql.ok(ORDERS, {"id": customer["id"]}, ADMIN))["customer"]["orders"]["edges"] == []


async def test_orders_of_unknown_customers_and_unknown_orders_are_not_found(gql):
    body = await gql(RECORD, {"input": order_input(unique("ghost"))}, INGEST)
    assert codes(body) == ["NOT_FOUND"]
    body = await gql(STATUS, {"id": unique("no-such-order"), "status": "PAID"}, INGEST)
    assert codes(body) == ["NOT_FOUND"]


async def test_impossible_transitions_conflict(gql, new_customer):
    customer = await new_customer()
    order = order_input(customer["id"])
    await gql.ok(RECORD, {"input": order}, INGEST)
    assert codes(await gql(STATUS, {"id": order["id"], "status": "DELIVERED"}, INGEST)) == ["CONFLICT"]
    await gql.ok(STATUS, {"id": order["id"], "status": "CANCELLED"}, INGEST)
    assert codes(await gql(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)) == ["CONFLICT"]
    assert codes(await gql(STATUS, {"id": order["id"], "status": "REFUNDED", "refunded": "-1"}, INGEST)) \
        == ["BAD_USER_INPUT"]


async def test_the_same_order_id_with_other_data_conflicts(gql, new_customer):
    customer = await new_customer()
    order = order_input(customer["id"])
    await gql.ok(RECORD, {"input": order}, INGEST)
    assert codes(await gql(RECORD, {"input": {**order, "total": "99.00"}}, INGEST)) == ["CONFLICT"]


@pytest.mark.parametrize("over", [
    {"email": "nope"}, {"locale": "xx"}, {"firstName": "x" * 1000}, {"birthday": "2999-01-01"},
    {"phone": "call me"}, {"timezone": "Nowhere/Land"},
])
async def test_bad_profiles_are_refused(gql, over):
    customer_id = unique("c")
    body = await gql(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com", **over}}, INGEST)
    assert body.get("errors"), body
    stored = await gql.ok('query($id: ID!) { customer(id: $id) { id } }', {"id": customer_id}, ADMIN)
    assert stored["customer"] is None


@pytest.mark.parametrize("delta, reason, key", [(0, "r", "k"), (10**8, "r", "k"), (5, "", "k"), (5, "r", " ")])
async def test_bad_point_adjustments(gql, new_customer, delta, reason, key):
    customer = await new_customer()
    body = await gql('mutation($c: ID!, $d: Int!, $r: String!, $k: String!) { adjustPoints(customerId: $c, '
                     'delta: $d, reason: $r, idempotencyKey: $k) { balance } }',
                     {"c": customer["id"], "d": delta, "r": reason, "k": key}, ADMIN)
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_adjustments_are_idempotent_and_never_overdraw(gql, new_customer):
    customer = await new_customer()
    k1, k2, k3 = (unique("key") for _ in range(3))
    adjust = ('mutation($c: ID!, $d: Int!, $k: String!) { adjustPoints(customerId: $c, delta: $d, '
              'reason: "goodwill", idempotencyKey: $k) { balance } }')
    first = await gql.ok(adjust, {"c": customer["id"], "d": 30, "k": k1}, ADMIN)
    again = await gql.ok(adjust, {"c": customer["id"], "d": 30, "k": k1}, ADMIN)
    assert first["adjustPoints"]["balance"] == again["adjustPoints"]["balance"] == 30
    assert codes(await gql(adjust, {"c": customer["id"], "d": 31, "k": k1}, ADMIN)) == ["CONFLICT"]
    assert codes(await gql(adjust, {"c": customer["id"], "d": -31, "k": k2}, ADMIN)) == ["INSUFFICIENT_POINTS"]
    assert (await gql.ok(adjust, {"c": customer["id"], "d": -30, "k": k3}, ADMIN))["adjustPoints"]["balance"] == 0


async def test_bad_pagination_arguments(gql, new_customer):
    customer = await new_customer()
    for args in ('first: -1', 'first: 1000', 'after: "!!"'):
        body = await gql('query($id: ID!) { customer(id: $id) { orders(' + args + ') { edges { cursor } } } }',
                         {"id": customer["id"]}, ADMIN)
        assert codes(body) == ["BAD_USER_INPUT"], (args, body)


async def test_nul_characters_are_refused_as_bad_input_in_variables_and_literals(gql, new_customer):
    # Found by fuzzing: PostgreSQL text cannot hold U+0000, and a NUL reached it as an internal error.
    customer = await new_customer()
    lookup = 'query($id: ID!) { customer(id: $id) { id } }'
    assert codes(await gql(lookup, {"id": "a\x00b"}, ADMIN)) == ["BAD_USER_INPUT"]
    assert codes(await gql('{ customer(id: "a\\u0000b") { id } }', headers=ADMIN)) == ["BAD_USER_INPUT"]
    body = await gql(RECORD, {"input": order_input(customer["id"], lines=[
        {"productId": "p\x00", "quantity": 1, "unitPrice": "1.00"}])}, INGEST)
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert (await gql.ok(ORDERS, {"id": customer["id"]}, ADMIN))["customer"]["orders"]["edges"] == []
