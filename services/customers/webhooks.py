"""The HTTP edge of the commerce platforms: signatures, body checks, statuses. Every delivery is
counted on its connection (taken, refused, failed) and applied by intake.py / intake_shopware.py
with the same use cases as the GraphQL mutations, one transaction each.

  POST /webhooks/shopify/{topic}      (the topic may also come in X-Shopify-Topic alone:
  POST /webhooks/shopify               POST /webhooks/shopify; both given must agree)
  POST /webhooks/shopware             every Shopware app webhook
  GET  /webhooks/shopware/register    the app registration (registering.py)
  POST /webhooks/shopware/confirm     its confirmation

  401  signature missing or wrong, an unknown store or shop, a replayed registration: nothing changes
  403  the store is disconnected or uninstalled (privacy requests are still honoured)
  400  a topic or event we do not take, a body that is not a JSON object
  413  a body over 1 MB
  422  a payload we cannot map (no customer, bad amounts, fields missing): retrying will not help
  404  the order is not known yet (its creation still on its way): the platform retries later
  200  applied; or already applied (a redelivery: its webhook or event id, or natural ids like a
       refund's); or obsolete (e.g. orders/paid after a cancellation): {"ignored": why}
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.customers import intake, intake_shopware, shopify, shopware
from services.customers.platforms import connecting, connections, registering
from services.customers.platforms.connecting import FAILED, REFUSED, TAKEN, Link
from services.customers.platforms.registering import Refused
from shared.errors import BadUserInput, Conflict, NotFound

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.runtime.pool
    return pool


async def _refuse(pool: asyncpg.Pool, on: Link | None, status: int, message: str) -> JSONResponse:
    if on is not None:
        await connecting.note(pool, on, REFUSED, message)
    else:
        log.info("webhook refused (no connection): %s", message)
    return JSONResponse({"error": message}, status_code=status)


async def _applied(pool: asyncpg.Pool, on: Link, label: str, apply: Any) -> JSONResponse:
    """Run a delivery's use case and answer for it, counting the outcome on its connection."""
    try:
        effect = await apply
    except intake.Duplicate:
        return JSONResponse({"ok": "already applied", "duplicate": True})
    except BadUserInput as exc:
        return await _refuse(pool, on, 422, f"{label}: {exc.message}")
    except NotFound as exc:
        await connecting.note(pool, on, FAILED, f"{label}: {exc.message} (the platform retries)")
        return JSONResponse({"error": exc.message}, status_code=404)
    except Conflict as exc:
        log.info("%s for %s ignored: %s", label, on.domain, exc.message)
        await connecting.note(pool, on, TAKEN)
        return JSONResponse({"ignored": exc.message})
    await connecting.note(pool, on, TAKEN)
    if effect.ignored:
        log.info("%s for %s partly ignored: %s", label, on.domain, "; ".join(effect.ignored))
        return JSONResponse({"ok": effect.done, "ignored": "; ".join(effect.ignored)})
    return JSONResponse({"ok": effect.done})


def _json_object(body: bytes, parse: Any = json.loads) -> dict[str, Any] | None:
    try:
        payload = parse(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


async def shopify_webhook(request: Request) -> Response:
    pool = _pool(request)
    path_topic = request.path_params.get("topic", "").replace(".", "/").strip("/")
    header_topic = (request.headers.get("x-shopify-topic") or "").strip()
    topic = path_topic or header_topic
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "body too large"}, status_code=413)
    # Connections keep their domain normalised once (connections.shopify_store); the header must match
    # one as is: no other case, no padding, no trailing dot.
    found = await connecting.find(pool, connections.SHOPIFY, request.headers.get("x-shopify-shop-domain") or "")
    if found is None:
        return await _refuse(pool, None, 401, "unknown store")
    if not shopify.signed(found.secrets.get("webhook_secret", ""), body, request.headers.get("x-shopify-hmac-sha256")):
        return await _refuse(pool, found, 401, "invalid signature")
    if path_topic and header_topic and path_topic != header_topic:
        return await _refuse(pool, found, 400, f"topic {path_topic} in the path, {header_topic} in X-Shopify-Topic")
    if topic not in shopify.TOPICS:
        return await _refuse(pool, found, 400, f"unsupported topic {topic or '(none)'}")
    if not connections.takes(found.status, topic in shopify.PRIVACY_TOPICS):
        return await _refuse(pool, found, 403, f"the store is {found.status.lower()}")
    payload = _json_object(body)
    if payload is None:
        return await _refuse(pool, found, 400, "the body must be a JSON object")
    keys = shopify.delivery_keys(topic, request.headers.get("x-shopify-webhook-id"),
                                 request.headers.get("x-shopify-event-id"))
    return await _applied(pool, found, f"shopify {topic}", intake.apply(pool, found, topic, payload, keys))


async def shopware_webhook(request: Request) -> Response:
    pool = _pool(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "body too large"}, status_code=413)
    data = _json_object(body, shopware.parse)
    source = data.get("source") if data is not None else None
    shop_id = source.get("shopId") if isinstance(source, dict) else None
    found = await connecting.find(pool, connections.SHOPWARE, shop_id) if isinstance(shop_id, str) else None
    if found is None:
        return await _refuse(pool, None, 401, "unknown shop")
    if not found.registered:
        return await _refuse(pool, found, 401, "the app registration is not confirmed yet")
    if not shopware.signed(found.secrets.get("shop_secret"), body, request.headers.get("shopware-shop-signature")):
        return await _refuse(pool, found, 401, "invalid shopware-shop-signature")
    try:
        d = shopware.delivery(data)
    except BadUserInput as exc:
        return await _refuse(pool, found, 400, exc.message)
    if d.event not in shopware.EVENTS:
        return await _refuse(pool, found, 400, f"unsupported event {d.event}")
    if not connections.takes(found.status, False):
        return await _refuse(pool, found, 403, f"the shop is {found.status.lower()}")
    if not shopware.recent(d.timestamp, datetime.now(UTC)):
        return await _refuse(pool, found, 401, "the webhook is too old (timestamp)")
    return await _applied(pool, found, f"shopware {d.event}",
                          intake_shopware.apply(pool, found, d, shopware.delivery_keys(d)))


async def shopware_register(request: Request) -> Response:
    pool = _pool(request)
    try:
        answer = await registering.register(pool, request.url.query, request.headers.get("shopware-app-signature"),
                                            datetime.now(UTC))
    except Refused as exc:
        return await _refuse(pool, exc.link, exc.status, exc.message)
    except BadUserInput as exc:
        return JSONResponse({"error": exc.message}, status_code=400)
    return JSONResponse(answer)


async def shopware_confirm(request: Request) -> Response:
    pool = _pool(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        await registering.confirm(pool, body, request.headers.get("shopware-shop-signature"))
    except Refused as exc:
        return await _refuse(pool, exc.link, exc.status, exc.message)
    except BadUserInput as exc:
        return JSONResponse({"error": exc.message}, status_code=400)
    return Response(status_code=204)


ROUTES = [
    Route("/webhooks/shopify", shopify_webhook, methods=["POST"]),
    Route("/webhooks/shopify/{topic:path}", shopify_webhook, methods=["POST"]),
    Route("/webhooks/shopware", shopware_webhook, methods=["POST"]),
    Route("/webhooks/shopware/register", shopware_register, methods=["GET"]),
    Route("/webhooks/shopware/confirm", shopware_confirm, methods=["POST"]),
]
