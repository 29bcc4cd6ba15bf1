"""Bulk points adjustments: thousands of customers in one call, idempotent, with per-row errors."""

from __future__ import annotations

import time

from tests.e2e.points_support import assert_ledger_invariant, new_shop
from tests.stack import codes, db, unique

BULK = """mutation($input: BulkAdjustmentInput!) { bulkAdjustPoints(input: $input) {
  applied alreadyApplied errors { index customerId code message } } }"""


async def test_thousands_in_one_call_idempotent_with_per_row_errors(gql):
    shop = await new_shop(gql)
    poor = await shop.new_customer()
    customers = [unique("bulk") for _ in range(2000)]
    rows = [{"customerId": c, "delta": 10 + i % 7, "reason": "launch bonus"} for i, c in enumerate(customers)]
    rows += [{"customerId": poor, "delta": -5, "reason": "oops"},  # would overdraw
             {"customerId": customers[0], "delta": 0, "reason": "zero"},
             {"customerId": customers[1], "delta": 5, "reason": "x" * 600},
             {"customerId": "", "delta": 5, "reason": "no id"}]
    batch = {"idempotencyKey": unique("batch"), "rows": rows}
    started = time.monotonic()
    result = (await gql.ok(BULK, {"input": batch}, shop.admin))["bulkAdjustPoints"]
    took = time.monotonic() - started
    assert result["applied"] == 2000 and result["alreadyApplied"] == 0
    assert [(e["index"], e["code"]) for e in result["errors"]] == [
        (2000, "INSUFFICIENT_POINTS"), (2001, "BAD_USER_INPUT"), (2002, "BAD_USER_INPUT"), (2003, "BAD_USER_INPUT")]
    assert result["errors"][0]["customerId"] == poor
    assert took < 20, took  # a few seconds here; one statement per row would take half a minute
    again = (await gql.ok(BULK, {"input": batch}, shop.admin))["bulkAdjustPoints"]
    assert (again["applied"], again["alreadyApplied"], len(again["errors"])) == (0, 2000, 4)
    conn = await db("points")
    try:
        total = await conn.fetchval("SELECT sum(balance) FROM accounts WHERE shop_id = $1", shop.id)
        sixth = await conn.fetchval("SELECT balance FROM accounts WHERE shop_id = $1 AND customer_id = $2",
                                    shop.id, customers[6])
    finally:
        await conn.close()
    assert total == sum(10 + i % 7 for i in range(2000)) and sixth == 16
    await assert_ledger_invariant(shop.id, customers[6])


async def test_bad_batches_are_refused_whole(gql):
    shop = await new_shop(gql)
    assert codes(await gql(BULK, {"input": {"idempotencyKey": "k", "rows": []}}, shop.admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(BULK, {"input": {"idempotencyKey": " ", "rows": [
        {"customerId": "c", "delta": 1, "reason": "r"}]}}, shop.admin)) == ["BAD_USER_INPUT"]
    too_many = [{"customerId": "c", "delta": 1, "reason": "r"}] * 10_001
    assert codes(await gql(BULK, {"input": {"idempotencyKey": "k", "rows": too_many}}, shop.admin)) == [
        "BAD_USER_INPUT"]
    assert codes(await gql(BULK, {"input": {"idempotencyKey": "k", "rows": [
        {"customerId": "c", "delta": 1, "reason": "r"}]}}, shop.customer("c"))) == ["FORBIDDEN"]
