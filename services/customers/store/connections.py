"""SQL of commerce-platform connections: the connection rows (secrets stay sealed bytes here), the
deliveries already applied, and the counters of what each connection took, refused and failed."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.customers.store.rows import returned
from shared.db import Connection, Executor

# Columns a counter update may name (never a caller's string).
COUNTERS = ("events_taken", "events_refused", "events_failed", "offers_pushed", "push_failures")


async def by_domain(conn: Executor, platform: str, domain: str) -> asyncpg.Record | None:
    """The connection of a store or shop, whichever shop it belongs to (webhooks name the store)."""
    return await conn.fetchrow("SELECT * FROM commerce_connections WHERE platform = $1 AND domain = $2",
                               platform, domain)


async def get(conn: Executor, shop: str, connection_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM commerce_connections WHERE shop_id = $1 AND id = $2",
                               shop, connection_id)


async def lock(conn: Connection, shop: str, connection_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM commerce_connections WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, connection_id)


async def lock_domain(conn: Connection, platform: str, domain: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM commerce_connections WHERE platform = $1 AND domain = $2 FOR UPDATE", platform, domain)


async def of_shop(conn: Executor, shop: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM commerce_connections WHERE shop_id = $1 ORDER BY created_at, id", shop)


async def pushing(conn: Executor, shop: str, statuses: tuple[str, ...]) -> list[asyncpg.Record]:
    """The shop's connections in one of `statuses` (those that take offers)."""
    return await conn.fetch(
        "SELECT * FROM commerce_connections WHERE shop_id = $1 AND status = ANY($2::text[]) ORDER BY id",
        shop, list(statuses))


async def insert(conn: Connection, shop: str, connection_id: str, *, platform: str, domain: str,
                 secrets: bytes, origin: str, shop_url: str | None = None, api_version: str | None = None,
                 app_name: str | None = None) -> asyncpg.Record | None:
    """A new connection; None when the store or shop is connected already (to any shop)."""
    return await conn.fetchrow(
        """INSERT INTO commerce_connections (shop_id, id, platform, domain, shop_url, api_version, app_name,
               secrets, origin)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (platform, domain) DO NOTHING
           RETURNING *""",
        shop, connection_id, platform, domain, shop_url, api_version, app_name, secrets, origin)


async def reconnect(conn: Connection, shop: str, connection_id: str, *, secrets: bytes,
                    shop_url: str | None, api_version: str | None, app_name: str | None) -> asyncpg.Record:
    """New secrets and settings for a connection the transaction holds locked; it is ACTIVE again."""
    return returned(await conn.fetchrow(
        """UPDATE commerce_connections SET secrets = $3, shop_url = coalesce($4, shop_url),
               api_version = coalesce($5, api_version), app_name = coalesce($6, app_name),
               status = 'ACTIVE', disconnected_at = NULL, uninstalled_at = NULL, origin = 'admin',
               updated_at = now()
           WHERE shop_id = $1 AND id = $2
           RETURNING *""",
        shop, connection_id, secrets, shop_url, api_version, app_name))


async def set_secrets(conn: Connection, shop: str, connection_id: str, secrets: bytes) -> None:
    await conn.execute(
        "UPDATE commerce_connections SET secrets = $3, updated_at = now() WHERE shop_id = $1 AND id = $2",
        shop, connection_id, secrets)


async def set_status(conn: Connection, shop: str, connection_id: str, status: str) -> asyncpg.Record:
    """Move a connection to `status`, stamping when it was disconnected or uninstalled."""
    return returned(await conn.fetchrow(
        """UPDATE commerce_connections SET status = $3, updated_at = now(),
               disconnected_at = CASE WHEN $3 = 'DISCONNECTED' THEN now() ELSE disconnected_at END,
               uninstalled_at = CASE WHEN $3 = 'UNINSTALLED' THEN now() ELSE uninstalled_at END
           WHERE shop_id = $1 AND id = $2
           RETURNING *""",
        shop, connection_id, status))


async def note_registration(conn: Connection, shop: str, connection_id: str, *, secrets: bytes, shop_url: str,
                            timestamp: int) -> None:
    """A Shopware registration request accepted: its timestamp (newer ones only, from now on) and the
    pending shop secret, sealed with the others."""
    await conn.execute(
        """UPDATE commerce_connections SET secrets = $3, shop_url = $4, registration_ts = $5, updated_at = now()
           WHERE shop_id = $1 AND id = $2""",
        shop, connection_id, secrets, shop_url, timestamp)


async def confirm_registration(conn: Connection, shop: str, connection_id: str, secrets: bytes) -> None:
    await conn.execute(
        """UPDATE commerce_connections SET secrets = $3, registered_at = now(), status = 'ACTIVE',
               disconnected_at = NULL, uninstalled_at = NULL, updated_at = now()
           WHERE shop_id = $1 AND id = $2""",
        shop, connection_id, secrets)


async def count(conn: Executor, shop: str, connection_id: str, counter: str, *, event_at: datetime | None = None,
                error: str | None = None, status: str | None = None) -> None:
    """Add one to a counter; stamp the event time, note an error, or move the status on the way.
    One short statement outside the effect's transaction, so deliveries of one store never queue on
    the connection's row while their effects run."""
    if counter not in COUNTERS:
        raise ValueError(f"unknown counter {counter}")
    await conn.execute(
        f"""UPDATE commerce_connections SET {counter} = {counter} + 1,
               last_event_at = coalesce($3, last_event_at),
               last_error = coalesce($4, last_error),
               last_error_at = CASE WHEN $4::text IS NULL THEN last_error_at ELSE now() END,
               status = CASE WHEN $5::text IS NOT NULL AND status IN ('ACTIVE', 'FAILING') THEN $5 ELSE status END
           WHERE shop_id = $1 AND id = $2""",
        shop, connection_id, event_at, error, status)


async def all_sealed(conn: Executor) -> list[asyncpg.Record]:
    """(shop_id, id, secrets) of every connection: for re-encrypting under a new key."""
    return await conn.fetch("SELECT shop_id, id, secrets FROM commerce_connections ORDER BY shop_id, id")


# ---- deliveries ---------------------------------------------------------------------------


async def seen(conn: Executor, shop: str, connection_id: str, keys: list[str]) -> bool:
    """Whether any of the delivery keys was applied before."""
    if not keys:
        return False
    return bool(await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM platform_deliveries
                          WHERE shop_id = $1 AND connection_id = $2 AND key = ANY($3::text[]))""",
        shop, connection_id, keys))


async def remember(conn: Connection, shop: str, connection_id: str, keys: list[str], topic: str) -> bool:
    """Note the delivery keys in the effect's transaction; False when another delivery of the same
    event got there first (its transaction committed meanwhile)."""
    if not keys:
        return True
    inserted = await conn.fetchval(
        """WITH added AS (
               INSERT INTO platform_deliveries (shop_id, connection_id, key, topic)
               SELECT $1, $2, unnest($3::text[]), $4
               ON CONFLICT DO NOTHING RETURNING 1)
           SELECT count(*) FROM added""",
        shop, connection_id, keys, topic)
    return int(inserted) == len(keys)


async def forget_deliveries(conn: Connection, shop: str) -> None:
    await conn.execute("DELETE FROM platform_deliveries WHERE shop_id = $1", shop)


async def note_error(conn: Executor, shop: str, connection_id: str, error: str, status: str | None = None) -> None:
    """Keep the last error (and move ACTIVE/FAILING to `status`) without counting anything."""
    await conn.execute(
        """UPDATE commerce_connections SET last_error = $3, last_error_at = now(),
               status = CASE WHEN $4::text IS NOT NULL AND status IN ('ACTIVE', 'FAILING') THEN $4 ELSE status END
           WHERE shop_id = $1 AND id = $2""",
        shop, connection_id, error, status)
