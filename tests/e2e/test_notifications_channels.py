"""SMS, WhatsApp and webhook channels against a fake provider on loopback (a real HTTP server,
no patched functions): what is sent, how failures retry and then show up as FAILED."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

import pytest

from shared import events
from tests.e2e.conftest import RECORD, STATUS, order_input
from tests.e2e.notifications_support import SETTINGS, UPDATE_FLOW, FakeProvider, add_customer, having, log, mails
from tests.stack import codes, customer_token, new_shop, unique
from tests.stack import publish_event as publish
from tests.support import eventually

FAILED = "{ failedNotifications(first: 10) { edges { node { id template channel status error attempts } } } }"
PHONE = "+4915112345678"
MY_PREFS = "{ me { notificationPreferences { phone sms whatsapp } } }"


async def reachable_by_phone(gql, me: dict) -> dict:
    """The phone given at ingest (upsertCustomer) reaches notifications with the profile event: the
    customer need not type it again in their preferences (issue 19, item 5)."""
    async def probe():
        body = await gql(MY_PREFS, headers=me)
        prefs = (body.get("data") or {}).get("me") and body["data"]["me"]["notificationPreferences"]
        return prefs if prefs and prefs["phone"] == PHONE else None
    return await eventually(probe, what="the contact with the platform's phone")


@pytest.fixture
def provider():
    fake = FakeProvider()
    yield fake
    fake.close()


async def configure_provider(gql, admin, provider: FakeProvider, **extra) -> dict:
    return (await gql.ok(SETTINGS, {"input": {
        "smsProviderUrl": provider.url, "smsAccountSid": "AC123", "smsAuthToken": "secret-token",
        "smsFrom": "+4930123456", "whatsappFrom": "+4930999999", **extra}}, admin))["configureNotifications"]


async def test_shipping_goes_over_whatsapp_when_the_customer_opted_in(gql, provider):
    shop, admin = new_shop()
    settings = await configure_provider(gql, admin, provider)
    assert settings["smsConfigured"] is True and "smsAuthToken" not in settings
    await gql.ok(SETTINGS, {"input": {"trackingUrl": "https://track.example/{order_id}"}}, admin)
    customer_id = await add_customer(gql, admin, acceptsEmail=False, acceptsWhatsapp=True, phone=PHONE)
    me = customer_token(customer_id, shop=shop)

    assert (await reachable_by_phone(gql, me))["whatsapp"] is True  # the platform's consent, no preference set
    order = order_input(customer_id)
    await gql.ok(RECORD, {"input": order}, admin)
    for status in ("PAID", "SHIPPED"):
        await gql.ok(STATUS, {"id": order["id"], "status": status}, admin)

    async def sent():
        return having(await log(gql, admin, customer_id), template="order_shipped", status="SENT")
    node = (await eventually(sent, what="the WhatsApp message"))[0]
    assert node["channel"] == "WHATSAPP"
    request = provider.requests[-1]
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["form"]["To"] == f"whatsapp:{PHONE}" and request["form"]["From"] == "whatsapp:+4930999999"
    assert f"https://track.example/{order['id']}" in request["form"]["Body"]
    assert "Hi Anna" in request["form"]["Body"]
    assert request["headers"]["authorization"].startswith("Basic ")
    emails = await mails(f"{customer_id}@example.com")
    assert [m["subject"] for m in emails] == [f"Thank you for your order {order['id']}"]  # no email copy


async def test_provider_failures_retry_with_backoff_then_fail_with_the_reason(gql, provider):
    shop, admin = new_shop()
    await configure_provider(gql, admin, provider, retrySeconds=[1, 1])
    provider.fail_with = 500
    await gql.ok(UPDATE_FLOW, {"input": {"key": "birthday", "steps": [{"key": "greeting", "channels": ["SMS"]}]}},
                 admin)
    customer_id = await add_customer(gql, admin, acceptsSms=True, phone=PHONE)
    me = customer_token(customer_id, shop=shop)
    assert (await reachable_by_phone(gql, me))["sms"] is True
    await publish(events.CustomerBirthday(shop=shop, customer_id=customer_id, year=date.today().year))

    async def failed():
        edges = (await gql.ok(FAILED, headers=admin))["failedNotifications"]["edges"]
        return edges and edges[0]["node"]
    node = await eventually(failed, what="the message to fail for good")
    assert node["template"] == "birthday" and node["channel"] == "SMS" and node["attempts"] == 3
    assert node["error"] == "ProviderError: provider answered HTTP 500: Unreachable destination handset"
    assert len(provider.requests) == 3  # the first try and two retries
    assert provider.requests[0]["form"]["To"] == PHONE and "/unsubscribe?token=" in provider.requests[0]["form"][
        "Body"]


async def test_the_webhook_channel_posts_a_signed_message(gql, provider):
    shop, admin = new_shop()
    secret = "whsec-" + unique("k")
    await gql.ok(SETTINGS, {"input": {"messageWebhookUrl": f"{provider.url}/esp", "webhookSecret": secret}}, admin)
    await gql.ok(UPDATE_FLOW, {"input": {"key": "tier_up", "steps": [{"key": "congrats", "channels": ["WEBHOOK"]}]}},
                 admin)
    customer_id = await add_customer(gql, admin)
    await publish(events.TierChanged(shop=shop, customer_id=customer_id, from_tier="Silver", to_tier="Gold",
                                     direction="up"))
    await publish(events.TierChanged(shop=shop, customer_id=customer_id, from_tier="Gold", to_tier="Silver",
                                     direction="down"))  # a downgrade congratulates nobody

    async def sent():
        return having(await log(gql, admin, customer_id), template="tier_up", status="SENT")
    await eventually(sent, what="the webhook message")
    assert len(provider.requests) == 1
    request = provider.requests[0]
    timestamp = request["headers"]["x-flywheel-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["x-flywheel-signature"] == f"sha256={expected}"
    payload = json.loads(request["body"])
    assert payload["customerId"] == customer_id and payload["template"] == "tier_up"
    assert payload["subject"] == "Welcome to Gold!" and "Hi Anna" in payload["text"]
    assert codes(await gql(SETTINGS, {"input": {"messageWebhookUrl": "ftp://x"}}, admin)) == ["BAD_USER_INPUT"]
