"""POST /webhooks/shopify/{topic}: Shopify's webhooks mapped onto the same store functions as the
GraphQL mutations, one transaction per delivery.

  401  signature missing or wrong, or an unknown store: nothing is read further, nothing changes
  400  a topic we do not take, or a body that is not a JSON object
  413  a body over 1 MB
  422  a payload we cannot map (no customer, bad amounts): retrying will not help
  404  the order is not known yet (orders/create still on its way): Shopify retries later
  200  applied, or already applied (replays are harmless: ids are natural keys), or obsolete
       (e.g. orders/paid after orders/fulfilled): {"ignored": why}
"""

from __future__ import annotations

import json
import logging
import os

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.customers import shopify, store
from shared.errors import BadUserInput, Conflict, NotFound

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000


def _stores() -> dict[str, shopify.Store]:
    return shopify.parse_stores(os.environ.get("SHOPIFY_WEBHOOKS") or shopify.DEV_WEBHOOKS)


STORES = _stores()


async def _apply(conn, shop: str, topic: str, payload: dict) -> str:
    if topic == "customers/create":
        await store.save_profile(conn, shop, shopify.customer_profile(payload))
        return "customer saved"
    if topic in ("orders/create", "orders/paid", "orders/fulfilled"):
        order = shopify.new_order(payload)
        await store.ensure_customer(conn, shop, shopify.customer_profile(shopify.order_customer(payload)))
        row = await store.insert_order(conn, shop, order)
        if topic == "orders/create":
            return f"order {row['status']}"
        if row["status"] == "PLACED" and (topic == "orders/paid" or shopify.financially_paid(payload)):
            row = await store.change_order_status(conn, shop, order.id, "PAID", None)
        elif topic == "orders/paid" and row["status"] in ("CANCELLED", "REFUNDED"):
            raise Conflict(f"order {order.id} is {row['status']}")  # obsolete: the order moved on
        if topic == "orders/fulfilled":
            row = await store.change_order_status(conn, shop, order.id, "SHIPPED", None)
        return f"order {row['status']}"
    order_id = str(payload.get("order_id") or "")
    row = await store.get_order(conn, shop, order_id) if order_id else None
    if row is None:
        raise NotFound(f"unknown order {order_id or '(none)'}")
    return "refund recorded" if await store.apply_refund(conn, shop, shopify.refund(payload, row["currency"])) \
        else "refund already recorded"


async def shopify_webhook(request: Request) -> JSONResponse:
    topic = request.path_params["topic"].replace(".", "/")
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "body too large"}, status_code=413)
    # The configured domains are normalised once (shopify.parse_stores); the header must match one as is.
    found = STORES.get(request.headers.get("x-shopify-shop-domain") or "")
    if not shopify.verified(found, body, request.headers.get("x-shopify-hmac-sha256")):
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    assert found is not None
    if topic not in shopify.TOPICS:
        return JSONResponse({"error": f"unsupported topic {topic}"}, status_code=400)
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    pool = request.app.state.runtime.pool
    try:
        async with pool.acquire() as conn, conn.transaction():
            effect = await _apply(conn, found.shop, topic, payload)
    except BadUserInput as exc:
        return JSONResponse({"error": exc.message}, status_code=422)
    except NotFound as exc:
        return JSONResponse({"error": exc.message}, status_code=404)
    except Conflict as exc:
        log.info("shopify %s for %s ignored: %s", topic, found.domain, exc.message)
        return JSONResponse({"ignored": exc.message})
    return JSONResponse({"ok": effect})


ROUTES = [Route("/webhooks/shopify/{topic:path}", shopify_webhook, methods=["POST"])]
