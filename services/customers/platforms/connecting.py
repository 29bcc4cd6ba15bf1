"""Connections as the admin manages them (connectShopifyStore, connectShopwareShop,
disconnectCommerce, commerceConnections), the development bootstrap from SHOPIFY_WEBHOOKS, and
what every delivery leaves on its connection (counters, last event, last error).

A store belongs to one shop: connecting a store that another shop has is a CONFLICT; connecting it
again from the same shop replaces its secrets and makes it ACTIVE (how a secret is rotated without a
restart). Disconnecting keeps the sealed secrets, so the platform's privacy requests can still be
verified and honoured; nothing else is taken or pushed until it is connected again.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg

from services.customers import shopify, store
from services.customers.platforms import connections
from services.customers.platforms.connections import SHOPIFY, SHOPWARE, ShopifyStore, ShopwareShop
from services.customers.platforms.secrets import Vault, vault_from_env
from shared import schedule
from shared.db import Connection, transaction
from shared.errors import Conflict, NotFound

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = logging.getLogger(__name__)
SUBSCRIBE_JOB = "platforms.subscribe"  # register a Shopify store's webhook subscriptions


@functools.cache
def vault() -> Vault:
    return vault_from_env()


@dataclass(frozen=True)
class Link:
    """A connection as the webhook edge and the push adapters use it, its secrets opened."""
    shop: str
    id: str
    platform: str
    domain: str
    status: str
    shop_url: str | None
    api_version: str | None
    app_name: str | None
    secrets: dict[str, str]
    registered: bool
    registration_ts: int | None


def link(row: asyncpg.Record, opened: Vault | None = None) -> Link:
    return Link(shop=row["shop_id"], id=row["id"], platform=row["platform"], domain=row["domain"],
                status=row["status"], shop_url=row["shop_url"], api_version=row["api_version"],
                app_name=row["app_name"], secrets=(opened or vault()).open(row["secrets"]),
                registered=row["registered_at"] is not None, registration_ts=row["registration_ts"])


def can_reach(link_: Link) -> bool:
    """A connection reaches its platform's Admin API: Shopify with an access token, Shopware with
    its app's (or an integration's) client credentials."""
    if link_.platform == SHOPIFY:
        return bool(link_.secrets.get("admin_token"))
    return bool(link_.secrets.get("client_id") and link_.secrets.get("client_secret") and link_.shop_url)


async def find(pool: asyncpg.Pool, platform: str, domain: str) -> Link | None:
    row = await store.connections.by_domain(pool, platform, domain)
    return link(row) if row is not None else None


async def _insert_or_reconnect(conn: Connection, shop: str, platform: str, domain: str, secrets: dict[str, str],
                               *, shop_url: str | None = None, api_version: str | None = None,
                               app_name: str | None = None) -> asyncpg.Record:
    existing = await store.connections.lock_domain(conn, platform, domain)
    if existing is None:
        row = await store.connections.insert(conn, shop, connections.new_id(), platform=platform, domain=domain,
                                             secrets=vault().seal(secrets), origin="admin", shop_url=shop_url,
                                             api_version=api_version, app_name=app_name)
        if row is not None:
            return row
        existing = await store.connections.lock_domain(conn, platform, domain)  # connected meanwhile
        if existing is None:
            raise LookupError(f"{platform} {domain} vanished while it was being connected")
    if existing["shop_id"] != shop:
        raise Conflict(f"{domain} is connected to another shop; disconnect it there first", field="domain")
    kept = {k: v for k, v in link(existing).secrets.items() if k not in secrets}
    return await store.connections.reconnect(conn, shop, existing["id"], secrets=vault().seal({**kept, **secrets}),
                                             shop_url=shop_url, api_version=api_version, app_name=app_name)


async def connect_shopify(pool: asyncpg.Pool, shop: str, s: ShopifyStore) -> asyncpg.Record:
    """Connect (or reconnect) a Shopify store; with an Admin API token its webhook subscriptions
    are registered by a job (webhookSubscriptionCreate), so the mutation never waits on Shopify."""
    async with transaction(pool) as conn:
        secrets = {"webhook_secret": s.webhook_secret}
        if s.admin_token:
            secrets["admin_token"] = s.admin_token
        row = await _insert_or_reconnect(conn, shop, SHOPIFY, s.domain, secrets, api_version=s.api_version)
        if s.admin_token:
            await schedule.schedule(conn, shop=shop, kind=SUBSCRIBE_JOB, dedup_key=f"{row['id']}:{uuid.uuid4().hex}",
                                    due_at=datetime.now(UTC), payload={"connection_id": row["id"], "attempt": 1})
        return row


async def connect_shopware(pool: asyncpg.Pool, shop: str, s: ShopwareShop) -> asyncpg.Record:
    """Connect (or reconnect) a Shopware shop. Its webhooks are verified with the shop secret the
    registration handshake hands it (registering.py); integration credentials given here reach the
    Admin API until the handshake brings the app's own."""
    async with transaction(pool) as conn:
        secrets = {"app_secret": s.app_secret}
        if s.client_id and s.client_secret:
            secrets |= {"client_id": s.client_id, "client_secret": s.client_secret}
        return await _insert_or_reconnect(conn, shop, SHOPWARE, s.shop_id, secrets, shop_url=s.shop_url,
                                          app_name=s.app_name)


async def disconnect(pool: asyncpg.Pool, shop: str, connection_id: str) -> asyncpg.Record:
    async with transaction(pool) as conn:
        row = await store.connections.lock(conn, shop, connection_id)
        if row is None:
            raise NotFound(f"unknown connection {connection_id}", field="id")
        if row["status"] == connections.DISCONNECTED:
            return row
        return await store.connections.set_status(conn, shop, connection_id, connections.DISCONNECTED)


async def uninstalled(conn: Connection, link_: Link) -> str:
    """The platform says the app was removed: marked, nothing deleted (a shop redaction may follow)."""
    if link_.status == connections.UNINSTALLED:
        return "already uninstalled"
    await store.connections.set_status(conn, link_.shop, link_.id, connections.UNINSTALLED)
    return "connection uninstalled"


async def bootstrap(pool: asyncpg.Pool, raw: str) -> int:
    """SHOPIFY_WEBHOOKS for development: each store there becomes a connection unless the admin
    connected it; a bootstrap connection follows the variable's secret. Returns how many changed."""
    changed = 0
    async with transaction(pool) as conn:
        for s in shopify.parse_stores(raw).values():
            sealed = vault().seal({"webhook_secret": s.secret.decode()})
            existing = await store.connections.lock_domain(conn, SHOPIFY, s.domain)
            if existing is None:
                inserted = await store.connections.insert(
                    conn, s.shop, connections.new_id(), platform=SHOPIFY, domain=s.domain, secrets=sealed,
                    origin="bootstrap", api_version=connections.DEFAULT_SHOPIFY_API_VERSION)
                changed += inserted is not None
            elif existing["origin"] == "bootstrap" and existing["shop_id"] == s.shop and \
                    link(existing).secrets.get("webhook_secret") != s.secret.decode():
                await store.connections.set_secrets(conn, s.shop, existing["id"], sealed)
                changed += 1
    return changed


# ---- what deliveries leave on their connection ------------------------------------------------

TAKEN, REFUSED, FAILED = "events_taken", "events_refused", "events_failed"


async def note(pool: asyncpg.Pool, link_: Link, counter: str, error: str | None = None) -> None:
    """Count a delivery on its connection: taken (applied or obsolete), refused (the delivery was
    wrong: signature, body, payload), failed (not applicable now: the platform retries)."""
    await store.connections.count(pool, link_.shop, link_.id, counter, event_at=datetime.now(UTC),
                                  error=None if error is None else connections.error_text(error))


async def on_start(runtime: Runtime) -> None:
    """At start-up: the vault opens (a missing production key stops the start), and SHOPIFY_WEBHOOKS
    (or its development default) becomes connections."""
    vault()
    raw = os.environ.get("SHOPIFY_WEBHOOKS") or shopify.DEV_WEBHOOKS
    changed = await bootstrap(runtime.pool, raw)
    if changed:
        log.info("SHOPIFY_WEBHOOKS: %d store connection(s) bootstrapped", changed)
