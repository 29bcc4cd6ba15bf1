"""POST /webhooks/shopify/{topic}: Shopify's webhooks, signature checked here, applied by
intake.py with the same use cases as the GraphQL mutations, one transaction per delivery.

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

from services.customers import intake, shopify
from shared.errors import BadUserInput, Conflict, NotFound

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000


def _stores() -> dict[str, shopify.Store]:
    return shopify.parse_stores(os.environ.get("SHOPIFY_WEBHOOKS") or shopify.DEV_WEBHOOKS)


STORES = _stores()


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
        effect = await intake.apply(pool, found.shop, topic, payload)
    except BadUserInput as exc:
        return JSONResponse({"error": exc.message}, status_code=422)
    except NotFound as exc:
        return JSONResponse({"error": exc.message}, status_code=404)
    except Conflict as exc:
        log.info("shopify %s for %s ignored: %s", topic, found.domain, exc.message)
        return JSONResponse({"ignored": exc.message})
    return JSONResponse({"ok": effect})


ROUTES = [Route("/webhooks/shopify/{topic:path}", shopify_webhook, methods=["POST"])]
