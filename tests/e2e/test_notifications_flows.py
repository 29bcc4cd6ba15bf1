"""Flows through the real stack: admins change them, events run them exactly once, and newer
events cancel what they make obsolete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared import events
from tests.e2e.conftest import RECORD, STATUS, order_input
from tests.e2e.notifications_support import FLOWS, UPDATE_FLOW, add_customer, handled, having, log, mails
from tests.stack import ADMIN, codes, customer_token, db, new_shop, unique
from tests.stack import publish_event as publish
from tests.support import eventually


async def test_admins_list_flows_and_change_enabled_delays_templates_and_channels(gql):
    shop, admin = new_shop()
    flows = {f["key"]: f for f in (await gql.ok(FLOWS, headers=admin))["notificationFlows"]}
    assert {"order_placed", "order_care_tips", "order_shipped", "order_delivered", "review_request", "winback",
            "at_risk", "birthday", "tier_near", "tier_up", "points_earned", "points_expiring", "referral_reward",
            "credit", "challenge_launched", "challenge_completed", "order_delay"} <= set(flows)
    assert flows["at_risk"]["enabled"] is True  # crossing the engagement threshold starts win-back
    assert {"event": "credit.spent", "match": None} in flows["credit"]["cancelledBy"]

    changed = await gql.ok(UPDATE_FLOW, {"input": {"key": "credit", "enabled": False, "steps": [
        {"key": "reminder", "delaySeconds": 3600, "template": "credit_granted", "channels": ["SMS", "EMAIL"]}]}},
        admin)
    reminder = changed["updateNotificationFlow"]["steps"][1]
    assert changed["updateNotificationFlow"]["enabled"] is False
    assert reminder == {"key": "reminder", "template": "credit_granted", "delaySeconds": 3600,
                        "channels": ["SMS", "EMAIL"]}

    bad = [({"key": "nope"}, "NOT_FOUND"),
           ({"key": "credit", "steps": [{"key": "nope", "delaySeconds": 1}]}, "BAD_USER_INPUT"),
           ({"key": "credit", "steps": [{"key": "reminder", "delaySeconds": -1}]}, "BAD_USER_INPUT"),
           ({"key": "credit", "steps": [{"key": "reminder", "delaySeconds": 10**9}]}, "BAD_USER_INPUT"),
           ({"key": "credit", "steps": [{"key": "reminder", "template": "tier_near"}]}, "BAD_USER_INPUT"),
           ({"key": "credit", "steps": [{"key": "reminder", "template": "../../etc/passwd"}]}, "BAD_USER_INPUT"),
           ({"key": "credit", "steps": [{"key": "reminder", "channels": []}]}, "BAD_USER_INPUT")]
    for flow_input, code in bad:
        assert codes(await gql(UPDATE_FLOW, {"input": flow_input}, admin)) == [code], flow_input
    customer = customer_token("c-1", shop=shop)
    assert codes(await gql(UPDATE_FLOW, {"input": {"key": "credit", "enabled": True}}, customer)) == ["FORBIDDEN"]
    assert codes(await gql(FLOWS)) == ["UNAUTHENTICATED"]
    after = {f["key"]: f for f in (await gql.ok(FLOWS, headers=admin))["notificationFlows"]}
    assert after["credit"]["enabled"] is False and after["credit"]["steps"][1]["delaySeconds"] == 3600
    # another shop still has the shipped defaults
    default = {f["key"]: f for f in (await gql.ok(FLOWS, headers=ADMIN))["notificationFlows"]}
    assert default["credit"]["enabled"] is True


async def test_a_redelivered_or_replayed_event_sends_once(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    granted = events.CreditGranted(shop=shop, customer_id=customer_id, amount=Decimal("2.00"), currency="EUR",
                                   balance=Decimal("7.00"), reason="review", source_id=unique("rv"))
    first = await publish(granted)
    await publish(granted, event_id=first)  # the broker redelivers the same message
    replay = await publish(granted)  # the producer publishes the same fact under a new id
    await eventually(lambda: handled(replay), what="the replay to be handled")

    async def sent():
        nodes = having(await log(gql, admin, customer_id), template="credit_granted")
        return nodes if nodes and nodes[0]["status"] == "SENT" else None
    nodes = await eventually(sent, what="the credit mail")
    assert len(nodes) == 1
    got = await eventually(lambda: mails(f"{customer_id}@example.com"), what="the mail")
    assert len(got) == 1 and "2.00 EUR" in got[0]["subject"] and "Hi Anna" in got[0]["text"]
    assert "7.00 EUR" in got[0]["text"] and "/unsubscribe?token=" in got[0]["text"]
    reminder = having(await log(gql, admin, customer_id), template="credit_reminder")
    assert len(reminder) == 1 and reminder[0]["status"] == "SCHEDULED"


async def test_credit_spent_cancels_the_use_your_credit_reminder(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    await publish(events.CreditGranted(shop=shop, customer_id=customer_id, amount=Decimal("5"), currency="EUR",
                                       balance=Decimal("5"), reason="review", source_id=unique("rv")))

    async def reminder(status):
        nodes = having(await log(gql, admin, customer_id), template="credit_reminder", status=status)
        return nodes
    await eventually(lambda: reminder("SCHEDULED"), what="the planned reminder")
    await publish(events.CreditSpent(shop=shop, customer_id=customer_id, amount=Decimal("5"), currency="EUR",
                                     balance=Decimal("0"), source_id=unique("o")))
    cancelled = await eventually(lambda: reminder("CANCELLED"), what="the reminder to be cancelled")
    assert cancelled[0]["error"] == "obsoleted by credit.spent"


async def test_a_submitted_review_cancels_the_request_for_that_product_only(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    order_id = unique("o")
    for product in ("p-mug", "p-tea"):
        await publish(events.ReviewRequested(shop=shop, customer_id=customer_id, product_id=product,
                                             order_id=order_id))

    async def reminders():
        nodes = having(await log(gql, admin, customer_id), template="review_reminder")
        return nodes if len(nodes) == 2 else None
    await eventually(reminders, what="two planned reminders")
    async def both_requests():
        sent = await mails(f"{customer_id}@example.com")
        return sent if len(sent) >= 2 else None
    requests = await eventually(both_requests, what="both requests")
    assert any("p-mug" in m["subject"] for m in requests)
    await publish(events.ReviewSubmitted(shop=shop, review_id=unique("rv"), customer_id=customer_id,
                                         product_id="p-mug", rating=5))

    async def one_cancelled():
        nodes = having(await log(gql, admin, customer_id), template="review_reminder")
        statuses = sorted(n["status"] for n in nodes)
        return statuses == ["CANCELLED", "SCHEDULED"] and nodes
    await eventually(one_cancelled, what="the p-mug reminder to be cancelled")


async def test_a_purchase_cancels_the_win_back_series_and_starts_a_new_one(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    placed = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)  # recorded 3 hours after the sale
    first = order_input(customer_id, placedAt=placed.isoformat())
    await gql.ok(RECORD, {"input": first}, admin)

    async def winback(status, count):
        nodes = [n for n in await log(gql, admin, customer_id) if n["flow"] == "winback" and n["status"] == status]
        return nodes if len(nodes) == count else None
    planned = await eventually(lambda: winback("SCHEDULED", 4), what="the win-back series")
    due = sorted(datetime.fromisoformat(n["dueAt"]) for n in planned)
    # 90/105/120/135 days after the order was placed (not after its event was handled)
    assert due == [placed + timedelta(days=d) for d in (90, 105, 120, 135)]
    await gql.ok(RECORD, {"input": order_input(customer_id)}, admin)
    cancelled = await eventually(lambda: winback("CANCELLED", 4), what="the first series to be cancelled")
    assert {n["error"] for n in cancelled} == {"obsoleted by order.placed"}
    await eventually(lambda: winback("SCHEDULED", 4), what="a new series from the second order")


async def test_a_shortened_delay_sends_the_care_tips_and_only_a_full_refund_cancels_what_waits(gql):
    shop, admin = new_shop()
    await gql.ok(UPDATE_FLOW, {"input": {"key": "order_care_tips", "steps": [
        {"key": "care_tips", "delaySeconds": 1}]}}, admin)
    await gql.ok(UPDATE_FLOW, {"input": {"key": "order_delivered", "steps": [
        {"key": "cross_sell", "delaySeconds": 3600}]}}, admin)
    customer_id = await add_customer(gql, admin, locale="de", firstName="Jonas")
    order = order_input(customer_id)
    await gql.ok(RECORD, {"input": order}, admin)

    async def care_tips():
        got = await mails(f"{customer_id}@example.com")
        return [m for m in got if m["subject"].startswith("So hast du")]
    mail = (await eventually(care_tips, what="the care tips after one second"))[0]
    assert "Hallo Jonas" in mail["text"] and order["id"] in mail["subject"]
    # a message still waiting for an order that is fully refunded is cancelled with it
    status = """mutation($id: ID!, $status: OrderStatus!) { updateOrderStatus(id: $id, status: $status) { id } }"""
    for step in ("PAID", "SHIPPED", "DELIVERED"):
        await gql.ok(status, {"id": order["id"], "status": step}, admin)

    async def cross_sell(state):
        return having(await log(gql, admin, customer_id), template="cross_sell", status=state)
    await eventually(lambda: cross_sell("SCHEDULED"), what="the planned cross-sell")
    await gql.ok(STATUS, {"id": order["id"], "status": "REFUNDED", "refunded": "10.00"}, admin)
    partial = await eventually(lambda: handled_refund(order["id"]), what="the partial refund")
    assert partial and await cross_sell("SCHEDULED")  # a partial refund keeps the order's messages
    await gql.ok(STATUS, {"id": order["id"], "status": "REFUNDED"}, admin)
    await eventually(lambda: cross_sell("CANCELLED"), what="the cross-sell to be cancelled by the full refund")


async def handled_refund(order_id: str) -> bool:
    """Notifications saw an order.refunded for the order (its order mirror says so)."""
    conn = await db("notifications")
    try:
        return bool(await conn.fetchval("SELECT status = 'REFUNDED' FROM orders WHERE order_id = $1", order_id))
    finally:
        await conn.close()
