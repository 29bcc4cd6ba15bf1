"""The Shopware app registration handshake (Shopware's app base guide).

1. The shop calls GET /webhooks/shopware/register?shop-id=…&shop-url=…&timestamp=… signed with the
   app secret (`shopware-app-signature` over the query string). The shop must have been connected by
   the admin (connectShopwareShop, which holds the app secret). The timestamp must be newer than the
   last registration taken and within 10 minutes of our clock: a replayed registration is refused.
   We answer the proof, a fresh shop secret and where to confirm.
2. The shop POSTs its Admin API credentials (apiKey, secretKey) to /webhooks/shopware/confirm, signed
   with that shop secret. Only a registration waiting for confirmation can be confirmed, once: the
   shop secret becomes the one its webhooks are verified with, the credentials reach its Admin API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.customers import shopware, store
from services.customers.platforms import connecting, connections, settings
from services.customers.platforms.connecting import Link, link, vault
from shared.db import transaction


class Refused(Exception):
    """A request refused with an HTTP status; counted on its connection when there is one."""

    def __init__(self, status: int, message: str, on: Link | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.link = status, message, on


async def _known(pool: asyncpg.Pool, shop_id: str) -> Link:
    found = await connecting.find(pool, connections.SHOPWARE, shop_id)
    if found is None:
        raise Refused(401, "unknown shop: connect it first (connectShopwareShop)")
    return found


async def register(pool: asyncpg.Pool, query: str, signature: str | None, now: datetime) -> dict[str, Any]:
    r = shopware.registration(query)
    found = await _known(pool, r.shop_id)
    if not shopware.signed(found.secrets.get("app_secret"), query.encode(), signature):
        raise Refused(401, "invalid shopware-app-signature", found)
    if found.status == connections.DISCONNECTED:
        raise Refused(403, "the shop is disconnected", found)
    async with transaction(pool) as conn:
        row = await store.connections.lock(conn, found.shop, found.id)
        if row is None:
            raise Refused(401, "unknown shop", found)
        if not shopware.fresh(r.timestamp, now, row["registration_ts"]):
            raise Refused(401, "replayed or stale registration (timestamp)", found)
        current = link(row)
        secret = connections.new_shop_secret()
        await store.connections.note_registration(
            conn, found.shop, found.id, secrets=vault().seal({**current.secrets, "pending_shop_secret": secret}),
            shop_url=r.shop_url, timestamp=r.timestamp)
    app_name = found.app_name or settings.shopware_app_name()
    return {"proof": shopware.proof(r.shop_id, r.shop_url, app_name, found.secrets["app_secret"]),
            "secret": secret, "confirmation_url": f"{settings.public_url()}/webhooks/shopware/confirm"}


async def confirm(pool: asyncpg.Pool, body: bytes, signature: str | None) -> Link:
    try:
        data = shopware.parse(body)
    except ValueError as exc:
        raise Refused(400, "the body must be JSON") from exc
    c = shopware.confirmation(data)
    found = await _known(pool, c.shop_id)
    pending = found.secrets.get("pending_shop_secret")
    if not pending:
        raise Refused(401, "no registration is waiting for confirmation (replayed confirmation?)", found)
    if not shopware.signed(pending, body, signature):
        raise Refused(401, "invalid shopware-shop-signature", found)
    async with transaction(pool) as conn:
        row = await store.connections.lock(conn, found.shop, found.id)
        current = link(row) if row is not None else None
        if current is None or current.secrets.get("pending_shop_secret") != pending:
            raise Refused(401, "the registration was confirmed or replaced meanwhile", found)
        secrets = {k: v for k, v in current.secrets.items() if k != "pending_shop_secret"}
        secrets |= {"shop_secret": pending, "client_id": c.api_key, "client_secret": c.secret_key}
        await store.connections.confirm_registration(conn, found.shop, found.id, vault().seal(secrets))
    return found
