"""Outbound merchant webhooks: selected event types, signed, retried, with a delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from shared import events
from tests.e2e.conftest import RECORD, order_input
from tests.e2e.notifications_support import SETTINGS, FakeProvider, add_customer, handled
from tests.stack import codes, customer_token, new_shop, unique
from tests.stack import publish_event as publish
from tests.support import eventually

UPSERT_ENDPOINT = """mutation($input: WebhookEndpointInput!) { upsertWebhookEndpoint(input: $input) {
  id url eventTypes enabled } }"""
DELIVERIES = """query($status: WebhookDeliveryStatus) { webhookDeliveries(first: 20, status: $status) { edges { node {
  id endpointId eventId eventType status attempts responseStatus error } } } }"""
SECRET = "merchant-secret-0123456789"


@pytest.fixture
def merchant():
    fake = FakeProvider()
    yield fake
    fake.close()


async def test_subscribed_events_are_posted_signed_once_and_logged(gql, merchant):
    shop, admin = new_shop()
    endpoint = (await gql.ok(UPSERT_ENDPOINT, {"input": {"url": f"{merchant.url}/hooks", "secret": SECRET,
                                                         "eventTypes": ["order.placed", "credit.granted"]}},
                             admin))["upsertWebhookEndpoint"]
    assert endpoint["eventTypes"] == ["credit.granted", "order.placed"] and endpoint["enabled"]
    customer_id = await add_customer(gql, admin)
    order = order_input(customer_id)
    await gql.ok(RECORD, {"input": order}, admin)
    granted = events.CreditGranted(shop=shop, customer_id=customer_id, amount=Decimal("2"), currency="EUR",
                                   balance=Decimal("2"), reason="review", source_id=unique("rv"))
    first = await publish(granted)
    await publish(granted, event_id=first)  # redelivered: no second POST
    await eventually(lambda: len(merchant.requests) >= 2, what="two webhook posts")
    await eventually(lambda: handled(first), what="the credit event")

    async def logged():
        edges = (await gql.ok(DELIVERIES, {"status": "SENT"}, admin))["webhookDeliveries"]["edges"]
        return len(edges) == 2 and [e["node"] for e in edges]
    nodes = await eventually(logged, what="two SENT deliveries")
    assert {n["eventType"] for n in nodes} == {"order.placed", "credit.granted"}
    assert all(n["endpointId"] == endpoint["id"] and n["responseStatus"] == 201 for n in nodes)
    assert len(merchant.requests) == 2  # customer.registered was not subscribed
    for request in merchant.requests:
        timestamp = request["headers"]["x-flywheel-timestamp"]
        signature = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request["body"], hashlib.sha256)
        assert request["headers"]["x-flywheel-signature"] == f"sha256={signature.hexdigest()}"
    placed = next(json.loads(r["body"]) for r in merchant.requests
                  if r["headers"]["x-flywheel-event"] == "order.placed")
    assert placed["type"] == "order.placed" and placed["data"]["order_id"] == order["id"]
    assert placed["specversion"] == "1.0" and "traceparent" not in placed


async def test_a_failing_endpoint_is_retried_then_failed_with_the_reason(gql, merchant):
    shop, admin = new_shop()
    merchant.fail_with = 503
    await gql.ok(SETTINGS, {"input": {"retrySeconds": [1, 1]}}, admin)
    await gql.ok(UPSERT_ENDPOINT, {"input": {"url": f"{merchant.url}/hooks", "secret": SECRET,
                                             "eventTypes": ["customer.registered"]}}, admin)
    await add_customer(gql, admin)

    async def failed():
        edges = (await gql.ok(DELIVERIES, {"status": "FAILED"}, admin))["webhookDeliveries"]["edges"]
        return edges and edges[0]["node"]
    node = await eventually(failed, what="the delivery to fail for good")
    assert node["attempts"] == 3 and node["responseStatus"] == 503 and len(merchant.requests) == 3
    assert node["error"].startswith("ProviderError: webhook answered HTTP 503")


async def test_endpoint_input_is_checked(gql, merchant):
    shop, admin = new_shop()
    good = {"url": f"{merchant.url}/hooks", "secret": SECRET, "eventTypes": ["order.paid"]}
    bad = [({**good, "eventTypes": ["order.nope"]}, "BAD_USER_INPUT"), ({**good, "eventTypes": []}, "BAD_USER_INPUT"),
           ({**good, "url": "file:///etc/passwd"}, "BAD_USER_INPUT"), ({**good, "secret": "short"}, "BAD_USER_INPUT"),
           ({k: v for k, v in good.items() if k != "secret"}, "BAD_USER_INPUT"),
           ({**good, "id": "not-a-uuid"}, "NOT_FOUND"),
           ({**good, "id": "00000000-0000-0000-0000-000000000000"}, "NOT_FOUND")]
    for endpoint, code in bad:
        assert codes(await gql(UPSERT_ENDPOINT, {"input": endpoint}, admin)) == [code], endpoint
    assert codes(await gql(UPSERT_ENDPOINT, {"input": good}, customer_token("c", shop=shop))) == ["FORBIDDEN"]
    assert (await gql.ok("{ webhookEndpoints { id } }", headers=admin))["webhookEndpoints"] == []
    created = (await gql.ok(UPSERT_ENDPOINT, {"input": good}, admin))["upsertWebhookEndpoint"]
    changed = await gql.ok(UPSERT_ENDPOINT, {"input": {"id": created["id"], "url": good["url"], "enabled": False,
                                                       "eventTypes": ["order.paid", "order.shipped"]}}, admin)
    assert changed["upsertWebhookEndpoint"]["enabled"] is False
    other_shop = new_shop()[1]
    assert codes(await gql(UPSERT_ENDPOINT, {"input": {**good, "id": created["id"]}}, other_shop)) == ["NOT_FOUND"]
