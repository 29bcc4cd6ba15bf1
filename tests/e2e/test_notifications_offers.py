"""Messages that carry a real code, through the whole stack: the notifications service asks the points
service for the offer when the message is due, the points service issues it on its program's
defaults, the mail shows the code and the checkout accepts it (checkCode through the gateway)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared import events
from tests.e2e.notifications_support import SETTINGS, add_customer, having, known_to_notifications, log, mails
from tests.e2e.platforms_support import CONNECT_SHOPIFY, new_domain
from tests.stack import customer_token, new_shop, publish_raw
from tests.support import eventually

CHECK = """mutation($code: String!, $cart: CartInput!) { checkCode(code: $code, cart: $cart) {
  valid reason discount { amount currency } freeShipping offer { source kind value expiresAt } } }"""
CODE = re.compile(r"(?:Your code|Dein Code): (FLY-[0-9A-Z-]+)")


async def placed_long_ago(shop: str, customer_id: str, ago: timedelta) -> datetime:
    """The customer's last order, placed `ago` (an order imported from the shop's history, announced now)."""
    data = events.OrderPlaced(shop=shop, order_id=f"o-{uuid.uuid4().hex[:8]}", customer_id=customer_id,
                              currency="EUR", total=Decimal("57.40"), net_amount=Decimal("45.00"),
                              placed_at=datetime.now(UTC) - ago)
    envelope = events.new_envelope(data, source="tests")
    await publish_raw(envelope.model_dump_json().encode(), envelope.type, envelope.id)
    return data.placed_at


async def disengaged(shop: str, customer_id: str, last_order_at: datetime) -> None:
    """What the customers service announces when the engagement score crosses the threshold."""
    data = events.CustomerDisengaged(shop=shop, customer_id=customer_id, score=-40, threshold=-15,
                                     last_order_at=last_order_at)
    envelope = events.new_envelope(data, source="tests")
    await publish_raw(envelope.model_dump_json().encode(), envelope.type, envelope.id)


async def test_a_customer_120_days_without_an_order_gets_the_10_percent_code_checkout_accepts(gql, platform_fake):
    shop, admin = new_shop()
    # The shop's Shopify store is connected: its own checkout must take the same code.
    token, domain = f"shpat_{uuid.uuid4().hex}", new_domain()
    shopify = platform_fake.add_shopify(domain, token)
    await gql.ok(CONNECT_SHOPIFY, {"input": {"domain": domain, "webhookSecret": f"whsec-{uuid.uuid4().hex}",
                                             "adminAccessToken": token}}, admin)
    # Every due step may go out at once here (the shop's cap would otherwise hold back some of them).
    await gql.ok(SETTINGS, {"input": {"dailyCap": 10, "weeklyCap": 10}}, admin)
    customer_id = await add_customer(gql, admin)
    await eventually(lambda: known_to_notifications(shop, customer_id), what="the contact")
    # 120 days and an hour ago: the day-120 step fell due an hour ago (sent now); the day-90 and day-105
    # steps are long overdue and are not sent at all (never a burst of old messages at once).
    placed = await placed_long_ago(shop, customer_id, timedelta(days=120, hours=1))

    async def the_mail(subject: str) -> list[dict]:
        return [m for m in await mails(f"{customer_id}@example.com") if m["subject"] == subject]
    winback = (await eventually(lambda: the_mail("Come back: 10 % off your next order"),
                                what="the day-120 win-back mail"))[0]
    code = CODE.search(winback["text"]).group(1)
    last_day = (datetime.now(UTC) + timedelta(days=13)).date()
    assert f"Valid until {last_day.day} {last_day.strftime('%B')} {last_day.year}" in winback["text"]
    assert "?offer=" not in winback["text"] and code in winback["html"]
    await eventually(lambda: code in shopify.discounts, what="the win-back code at Shopify")
    assert shopify.discounts[code].input["customerGets"]["value"] == {"percentage": 0.1}

    me = customer_token(customer_id, shop=shop)
    check = (await gql.ok(CHECK, {"code": code, "cart": {"currency": "EUR", "subtotal": "50.00"}}, me))["checkCode"]
    assert (check["valid"], check["reason"], check["discount"]) == (True, None, {"amount": "5.00", "currency": "EUR"})
    assert (check["offer"]["source"], check["offer"]["kind"]) == ("WINBACK", "PERCENTAGE")
    assert Decimal(check["offer"]["value"]) == 10

    # Win-back started when the engagement score crossed the threshold: the at-risk message carries its own
    # offer, free shipping, a code of its own.
    await disengaged(shop, customer_id, placed)
    at_risk = (await eventually(lambda: the_mail("We miss you"), what="the at-risk mail"))[0]
    assert "free shipping on your next order" in at_risk["text"]
    free = CODE.search(at_risk["text"]).group(1)
    assert free != code
    shipping = (await gql.ok(CHECK, {"code": free, "cart": {"currency": "EUR", "subtotal": "50.00",
                                                            "shippingTotal": "4.90"}}, me))["checkCode"]
    assert (shipping["valid"], shipping["freeShipping"], shipping["discount"]["amount"]) == (True, True, "4.90")

    # Both are logged as sent with their offer; the day-135 step waits for its day, no offer asked yet.
    nodes = await log(gql, admin, customer_id)
    assert having(nodes, step="discount_10", status="SENT") and having(nodes, step="at_risk", status="SENT")
    assert having(nodes, step="discount_20_survey", status="SCHEDULED", error=None)
    for overdue in ("value_reminder", "content"):
        [node] = having(nodes, step=overdue)
        assert node["status"] == "CANCELLED" and node["error"].startswith("not sent: due")
