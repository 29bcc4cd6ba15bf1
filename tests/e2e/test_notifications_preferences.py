"""Consent, preferences, quiet hours, the frequency cap, the unsubscribe link, open and click
tracking, the order-delay note, and erasure — through the gateway and the notifications routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

from shared import events
from tests.e2e.conftest import RECORD, order_input
from tests.e2e.notifications_support import PREFS, SETTINGS, add_customer, handled, having, log, mails
from tests.stack import ADMIN, codes, customer_token, db, new_shop, port, unique
from tests.stack import publish_event as publish
from tests.support import eventually

READ = "{ me { notificationPreferences { email sms whatsapp phone locale timezone quietHoursStart quietHoursEnd } } }"
DELAY = "mutation($id: ID!, $message: String) { notifyOrderDelay(orderId: $id, message: $message) }"
FAILED = "{ failedNotifications(first: 10) { edges { node { id template status error attempts } } } }"


def points(shop: str, customer_id: str, amount: int = 45) -> events.PointsEarned:
    return events.PointsEarned(shop=shop, customer_id=customer_id, points=amount, balance=amount,
                               reason="purchase", source_id=unique("o"))


async def test_customers_read_and_change_their_preferences_and_bad_input_changes_nothing(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin, acceptsEmail=False, timezone="Europe/Berlin", locale="de")
    me = customer_token(customer_id, shop=shop)
    await eventually(lambda: _has_contact(gql, me), what="the contact")
    assert (await gql.ok(READ, headers=me))["me"]["notificationPreferences"] == {
        "email": False, "sms": False, "whatsapp": False, "phone": None, "locale": "de",
        "timezone": "Europe/Berlin", "quietHoursStart": None, "quietHoursEnd": None}
    changed = await gql.ok(PREFS, {"input": {"email": True, "whatsapp": True, "phone": "+4915112345678",
                                             "locale": "en", "quietHoursStart": "22:00", "quietHoursEnd": "07:00"}}, me)
    expected = {"email": True, "sms": False, "whatsapp": True, "phone": "+4915112345678", "locale": "en",
                "timezone": "Europe/Berlin", "quietHoursStart": "22:00", "quietHoursEnd": "07:00"}
    assert changed["updateNotificationPreferences"] == expected
    for bad in ({"locale": "fr"}, {"timezone": "Nowhere/Land"}, {"quietHoursStart": "24:00", "quietHoursEnd": "1"},
                {"quietHoursStart": "22:00"}, {"phone": "12345"}, {"phone": "+49" + "1" * 40},
                {"timezone": "x" * 5000}):
        assert codes(await gql(PREFS, {"input": bad}, me)) == ["BAD_USER_INPUT"], bad
    assert (await gql(PREFS, {"input": {"email": "yes"}}, me))["errors"]  # a wrong type fails validation
    assert (await gql.ok(READ, headers=me))["me"]["notificationPreferences"] == expected
    assert codes(await gql(PREFS, {"input": {"email": False}}, admin)) == ["FORBIDDEN"]
    assert codes(await gql(PREFS, {"input": {"email": False}})) == ["UNAUTHENTICATED"]
    stranger = customer_token(unique("c"), shop=shop)
    assert codes(await gql(PREFS, {"input": {"email": False}}, stranger)) == ["NOT_FOUND"]
    forged = customer_token(customer_id, shop=shop, secret="not-the-secret-0123456789abcdef0123456789")
    assert codes(await gql(PREFS, {"input": {"email": False}}, forged)) == ["UNAUTHENTICATED"]


async def test_marketing_needs_consent_while_order_messages_go_out_anyway(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin, acceptsEmail=False)
    await gql.ok(RECORD, {"input": order_input(customer_id)}, admin)
    event_id = await publish(points(shop, customer_id))
    await eventually(lambda: handled(event_id), what="points.earned")
    await eventually(lambda: _sent(gql, admin, customer_id, "order_thank_you"), what="the thank-you")
    nodes = await log(gql, admin, customer_id)
    assert [n["template"] for n in nodes] == ["order_thank_you"], nodes  # nothing marketing planned


async def _sent(gql, admin, customer_id, template):
    return having(await log(gql, admin, customer_id), template=template, status="SENT")


async def test_quiet_hours_postpone_marketing_to_their_end_in_the_customers_timezone(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin, timezone="America/New_York")
    me = customer_token(customer_id, shop=shop)
    local_now = datetime.now(ZoneInfo("America/New_York"))
    start, end = (local_now - timedelta(hours=1)), (local_now + timedelta(hours=2))
    await eventually(lambda: _has_contact(gql, me), what="the contact")
    await gql.ok(PREFS, {"input": {"quietHoursStart": start.strftime("%H:%M"),
                                   "quietHoursEnd": end.strftime("%H:%M")}}, me)
    await publish(points(shop, customer_id))

    async def waiting():
        nodes = having(await log(gql, admin, customer_id), template="points_earned")
        return nodes if nodes and nodes[0]["error"] == "waiting for quiet hours to end" else None
    node = (await eventually(waiting, what="the message to wait"))[0]
    assert node["status"] == "SCHEDULED"
    due = datetime.fromisoformat(node["dueAt"]).astimezone(ZoneInfo("America/New_York"))
    assert due.strftime("%H:%M") == end.strftime("%H:%M") and due > datetime.now(UTC)
    assert await mails(f"{customer_id}@example.com") == []


async def _has_contact(gql, headers):
    return not (await gql(READ, headers=headers)).get("errors")


async def test_the_frequency_cap_suppresses_marketing_beyond_it_but_not_order_messages(gql):
    shop, admin = new_shop()
    await gql.ok(SETTINGS, {"input": {"dailyCap": 1}}, admin)
    customer_id = await add_customer(gql, admin)
    await publish(points(shop, customer_id, 10))
    await eventually(lambda: _sent(gql, admin, customer_id, "points_earned"), what="the first marketing message")
    await publish(points(shop, customer_id, 20))

    async def capped():
        return having(await log(gql, admin, customer_id), template="points_earned", status="SUPPRESSED")
    node = (await eventually(capped, what="the second to be capped"))[0]
    assert node["error"] == "frequency cap: 1 marketing messages per day"
    await gql.ok(RECORD, {"input": order_input(customer_id)}, admin)
    await eventually(lambda: _sent(gql, admin, customer_id, "order_thank_you"), what="the exempt order mail")
    for bad in ({"dailyCap": -1}, {"retrySeconds": [0]}, {"trackingUrl": "https://x.test/no-placeholder"},
                {"storefrontUrl": "javascript:alert(1)"}):
        assert codes(await gql(SETTINGS, {"input": bad}, admin)) == ["BAD_USER_INPUT"], bad
    assert codes(await gql(SETTINGS, {"input": {"dailyCap": 5}}, customer_token(customer_id, shop=shop))) == [
        "FORBIDDEN"]


async def test_the_signed_unsubscribe_link_stops_marketing_email(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    await publish(points(shop, customer_id))
    mail = (await eventually(lambda: mails(f"{customer_id}@example.com"), what="a marketing mail"))[0]
    link = re.search(r"(http://\S+/unsubscribe\?token=\S+)", mail["text"]).group(1)
    assert mail["headers"]["List-Unsubscribe"] == f"<{link}>"
    async with httpx.AsyncClient() as client:
        assert (await client.get(link)).status_code == 200  # a page, so a link scanner unsubscribes nobody
        me = customer_token(customer_id, shop=shop)
        assert (await gql.ok(READ, headers=me))["me"]["notificationPreferences"]["email"] is True
        tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
        assert (await client.post(tampered)).status_code == 404
        assert (await client.post(link)).status_code == 200
    assert (await gql.ok(READ, headers=me))["me"]["notificationPreferences"]["email"] is False
    event_id = await publish(points(shop, customer_id))
    await eventually(lambda: handled(event_id), what="the next points.earned")
    assert len(having(await log(gql, admin, customer_id), template="points_earned")) == 1


async def test_opens_and_clicks_are_tracked_once_and_become_events(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    await gql.ok(SETTINGS, {"input": {"storefrontUrl": "https://shop.example"}}, admin)
    await publish(points(shop, customer_id))
    mail = (await eventually(lambda: mails(f"{customer_id}@example.com"), what="a mail"))[0]
    pixel = re.search(r'src="(http://[^"]+/t/o/[^"]+)"', mail["html"]).group(1)
    click = re.search(r'href="(http://[^"]+/t/c/[^"]+)"', mail["html"]).group(1)
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            opened = await client.get(pixel)
            assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
            redirect = await client.get(click)
            assert redirect.status_code == 302
            assert redirect.headers["location"] == "https://shop.example/account/rewards"
        base = f"http://127.0.0.1:{port('notifications')}"
        assert (await client.get(f"{base}/t/c/not-a-token")).status_code == 404
        assert (await client.get(click.replace("/t/c/", "/t/o/"))).status_code == 200  # wrong purpose: no event
    conn = await db("notifications")
    try:
        rows = await conn.fetch(
            """SELECT type, envelope->'data' AS data FROM outbox
               WHERE type IN ('notification.opened', 'notification.clicked') AND envelope->>'shop' = $1""", shop)
    finally:
        await conn.close()
    assert sorted(r["type"] for r in rows) == ["notification.clicked", "notification.opened"]
    clicked = next(r["data"] for r in rows if r["type"] == "notification.clicked")
    assert clicked["customer_id"] == customer_id and clicked["url"] == "https://shop.example/account/rewards"


async def test_admins_send_an_honest_order_delay_note_once_per_message(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin, acceptsEmail=False, locale="de", firstName="Jonas")
    order = order_input(customer_id)
    await gql.ok(RECORD, {"input": order}, admin)
    await eventually(lambda: _sent(gql, admin, customer_id, "order_thank_you"), what="the order to be known")
    message = "Unser Lieferant ist eine Woche im Verzug."
    assert (await gql.ok(DELAY, {"id": order["id"], "message": message}, admin))["notifyOrderDelay"] is True
    assert (await gql.ok(DELAY, {"id": order["id"], "message": message}, admin))["notifyOrderDelay"] is True

    async def note():
        return [m for m in await mails(f"{customer_id}@example.com") if m["subject"].startswith("Neuigkeiten")]
    got = await eventually(note, what="the delay note")
    assert message in got[0]["text"] and "Hallo Jonas" in got[0]["text"] and "erstatten" in got[0]["text"]
    assert len(having(await log(gql, admin, customer_id), template="order_delay")) == 1
    assert codes(await gql(DELAY, {"id": unique("o")}, admin)) == ["NOT_FOUND"]
    assert codes(await gql(DELAY, {"id": order["id"], "message": "x" * 1001}, admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(DELAY, {"id": " "}, admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(DELAY, {"id": order["id"]}, customer_token(customer_id, shop=shop))) == ["FORBIDDEN"]
    assert codes(await gql(DELAY, {"id": order["id"]}, ADMIN)) == ["NOT_FOUND"]  # another shop's order


async def test_an_erased_customer_is_forgotten_but_counts_stay(gql):
    shop, admin = new_shop()
    customer_id = await add_customer(gql, admin)
    await gql.ok(RECORD, {"input": order_input(customer_id)}, admin)
    await eventually(lambda: _sent(gql, admin, customer_id, "order_thank_you"), what="the thank-you")
    before = len(await log(gql, admin, customer_id))
    assert before >= 6  # the thank-you, the care tips and the win-back series
    event_id = await publish(events.CustomerErased(shop=shop, customer_id=customer_id))
    await eventually(lambda: handled(event_id), what="the erasure")
    conn = await db("notifications")
    try:
        assert await conn.fetchval("SELECT count(*) FROM contacts WHERE shop_id = $1", shop) == 0
        rows = await conn.fetch("SELECT * FROM deliveries WHERE shop_id = $1", shop)
        assert len(rows) == before
        assert all(r["customer_id"] is None and r["recipient"] is None and r["variables"] == {} for r in rows)
        assert all(customer_id not in r["dedup_key"] for r in rows)
        assert {r["status"] for r in rows} == {"SENT", "CANCELLED"}
        late = await publish(events.CreditGranted(shop=shop, customer_id=customer_id, amount=Decimal("1"),
                                                  currency="EUR", balance=Decimal("1"), reason="review",
                                                  source_id="x"))
        await eventually(lambda: handled(late), what="a late event about the erased customer")
        assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE shop_id = $1", shop) == before
    finally:
        await conn.close()
    failed = await gql.ok(FAILED, headers=admin)
    assert failed["failedNotifications"]["edges"] == []
