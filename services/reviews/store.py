"""All SQL of the reviews service."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from shared.db import Connection, Executor

# SQL expressions (a fixed whitelist, never caller text) for the primary key of each sort order of
# listing.py.
PRIMARY_SQL = {
    "NEWEST": "0::int",
    "HIGHEST": "rating::int",
    "LOWEST": "-rating::int",
    "MOST_HELPFUL": "helpful_count",
}


def _one(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always returns one (an upsert, an update of a row known to exist)."""
    if row is None:
        raise LookupError("the statement returned no row")
    return row


# ---- purchases and products ------------------------------------------------------------------


async def record_purchases(conn: Connection, shop: str, customer_id: str, order_id: str,
                           product_ids: Iterable[str], delivered_at: datetime | None) -> None:
    products = sorted(set(product_ids))  # sorted: concurrent orders lock product rows in one order
    await conn.executemany(
        "INSERT INTO products (shop_id, product_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(shop, p) for p in products],
    )
    await conn.executemany(
        """INSERT INTO purchases (shop_id, customer_id, product_id, order_id, delivered_at, cancelled_at)
           VALUES ($1, $2, $3, $4, $5,
                   (SELECT cancelled_at FROM cancelled_orders WHERE shop_id = $1 AND order_id = $4))
           ON CONFLICT (shop_id, customer_id, product_id, order_id)
           DO UPDATE SET delivered_at = coalesce(purchases.delivered_at, EXCLUDED.delivered_at)""",
        [(shop, customer_id, p, order_id, delivered_at) for p in products],
    )


async def cancel_purchases(conn: Connection, shop: str, order_id: str) -> None:
    """The order's purchases (cancelled or fully refunded) no longer make a verified buyer, including
    those its placing records if that is handled after this (cancelled_orders, migration 0003), and
    the reviews they verified are verified again by the customer's other purchases only."""
    await conn.execute(
        "INSERT INTO cancelled_orders (shop_id, order_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", shop, order_id)
    await conn.execute(
        "UPDATE purchases SET cancelled_at = now() WHERE shop_id = $1 AND order_id = $2 AND cancelled_at IS NULL",
        shop, order_id,
    )
    await conn.execute(
        """UPDATE reviews r SET verified_buyer = false, updated_at = now()
           FROM (SELECT DISTINCT customer_id, product_id FROM purchases WHERE shop_id = $1 AND order_id = $2) p
           WHERE r.shop_id = $1 AND r.customer_id = p.customer_id AND r.product_id = p.product_id
             AND r.verified_buyer AND NOT EXISTS (
                 SELECT 1 FROM purchases o WHERE o.shop_id = $1 AND o.customer_id = p.customer_id
                   AND o.product_id = p.product_id AND o.cancelled_at IS NULL)""",
        shop, order_id,
    )


async def lock_product(conn: Connection, shop: str, product_id: str) -> asyncpg.Record | None:
    """Every writer of a product's reviews takes this lock first, so the counters stay exact."""
    return await conn.fetchrow(
        "SELECT * FROM products WHERE shop_id = $1 AND product_id = $2 FOR UPDATE", shop, product_id
    )


async def product(conn: Executor, shop: str, product_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM products WHERE shop_id = $1 AND product_id = $2", shop, product_id)


async def products(conn: Executor, shop: str, product_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM products WHERE shop_id = $1 AND product_id = ANY($2::text[])", shop, product_ids
    )


async def move_counters(conn: Connection, shop: str, product_id: str, delta: Sequence[int]) -> None:
    """Add the difference of 1★..5★ counts a change makes (ratings.change)."""
    if not any(delta):
        return
    await conn.execute(
        """UPDATE products SET r1 = r1 + $3, r2 = r2 + $4, r3 = r3 + $5, r4 = r4 + $6, r5 = r5 + $7
           WHERE shop_id = $1 AND product_id = $2""",
        shop, product_id, *delta,
    )


async def bought(conn: Connection, shop: str, customer_id: str, product_id: str,
                 order_id: str | None = None) -> bool:
    return bool(await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM purchases
                          WHERE shop_id = $1 AND customer_id = $2 AND product_id = $3
                            AND cancelled_at IS NULL AND ($4::text IS NULL OR order_id = $4))""",
        shop, customer_id, product_id, order_id,
    ))


# ---- reviews ---------------------------------------------------------------------------------


async def review_of(conn: Connection, shop: str, customer_id: str, product_id: str,
                    *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM reviews WHERE shop_id = $1 AND customer_id = $2 AND product_id = $3"
        + (" FOR UPDATE" if lock else ""),
        shop, customer_id, product_id,
    )


async def review(conn: Executor, shop: str, review_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM reviews WHERE shop_id = $1 AND id = $2" + (" FOR UPDATE" if lock else ""),
        shop, review_id,
    )


async def save_review(conn: Connection, shop: str, customer_id: str, product_id: str, *, order_id: str | None,
                      rating: int, title: str | None, body: str, media_urls: Sequence[str], hashtags: Sequence[str],
                      challenge_id: str | None, status: str, reason: str | None, verified: bool) -> asyncpg.Record:
    """Create the customer's review of the product, or replace its content (an edit)."""
    return _one(await conn.fetchrow(
        """INSERT INTO reviews (shop_id, customer_id, product_id, order_id, rating, title, body, media_urls,
                               hashtags, challenge_id, status, rejection_reason, verified_buyer)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (shop_id, customer_id, product_id) DO UPDATE SET
               order_id = coalesce(EXCLUDED.order_id, reviews.order_id), rating = EXCLUDED.rating,
               title = EXCLUDED.title, body = EXCLUDED.body, media_urls = EXCLUDED.media_urls,
               hashtags = EXCLUDED.hashtags, challenge_id = EXCLUDED.challenge_id, status = EXCLUDED.status,
               rejection_reason = EXCLUDED.rejection_reason, verified_buyer = EXCLUDED.verified_buyer,
               published_at = NULL, updated_at = now()
           RETURNING *""",
        shop, customer_id, product_id, order_id, rating, title, body, list(media_urls), list(hashtags),
        challenge_id, status, reason, verified,
    ))


async def set_status(conn: Connection, shop: str, review_id: uuid.UUID, status: str,
                     reason: str | None) -> asyncpg.Record:
    return _one(await conn.fetchrow(
        """UPDATE reviews SET status = $3, rejection_reason = $4, updated_at = now(),
               published_at = CASE WHEN $3 = 'PUBLISHED' THEN now() ELSE NULL END
           WHERE shop_id = $1 AND id = $2 RETURNING *""",
        shop, review_id, status, reason,
    ))


async def mark_incentivized(conn: Connection, shop: str, review_id: uuid.UUID) -> bool:
    """A reward was granted for the review (review.rewarded): it stays incentivized once set."""
    return bool(await conn.fetchval(
        """UPDATE reviews SET incentivized = true, updated_at = now()
           WHERE shop_id = $1 AND id = $2 AND NOT incentivized AND erased_at IS NULL RETURNING true""",
        shop, review_id))


# ---- settings (versions) -----------------------------------------------------------------------


async def settings(conn: Executor, shop: str) -> asyncpg.Record | None:
    """The shop's latest settings version (None: the defaults)."""
    return await conn.fetchrow(
        "SELECT * FROM review_settings WHERE shop_id = $1 ORDER BY version DESC LIMIT 1", shop)


async def lock_settings(conn: Connection, shop: str) -> None:
    """Serialises the shop's settings changes, so two admins saving at once make two versions."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('review_settings'), hashtext($1))", shop)


async def add_settings(conn: Connection, shop: str, version: int, stored: dict[str, Any], actor: str) -> None:
    await conn.execute(
        "INSERT INTO review_settings (shop_id, version, settings, actor) VALUES ($1, $2, $3, $4)",
        shop, version, stored, actor)


async def mark_ugc_sent(conn: Connection, shop: str, review_id: uuid.UUID) -> asyncpg.Record:
    return _one(await conn.fetchrow("UPDATE reviews SET ugc_sent = true WHERE shop_id = $1 AND id = $2 RETURNING *",
                                    shop, review_id))


async def set_reply(conn: Connection, shop: str, review_id: uuid.UUID, body: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE reviews SET reply_body = $3, replied_at = now(), updated_at = now()
           WHERE shop_id = $1 AND id = $2 AND erased_at IS NULL RETURNING *""",
        shop, review_id, body,
    )


async def add_vote(conn: Connection, shop: str, review_id: uuid.UUID, customer_id: str) -> asyncpg.Record:
    """Count a helpful vote once per customer; return the review as it stands."""
    added = await conn.fetchval(
        """INSERT INTO review_votes (shop_id, review_id, customer_id) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""",
        shop, review_id, customer_id,
    )
    if added:
        return _one(await conn.fetchrow(
            "UPDATE reviews SET helpful_count = helpful_count + 1 WHERE shop_id = $1 AND id = $2 RETURNING *",
            shop, review_id,
        ))
    return _one(await review(conn, shop, review_id))


async def reviews_by_customer(pool: asyncpg.Pool, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM reviews WHERE shop_id = $1 AND customer_id = $2 ORDER BY created_at DESC",
        shop, customer_id,
    )


async def published_page(pool: asyncpg.Pool, shop: str, product_id: str, sort: str, media_first: bool,
                         after: Sequence[Any] | None, size: int) -> list[asyncpg.Record]:
    """One page of a product's published reviews, past the cursor key (all parts descending)."""
    media = "(CASE WHEN cardinality(media_urls) > 0 THEN 1 ELSE 0 END)" if media_first else "0::int"
    sort_key = f"{media}, {PRIMARY_SQL[sort]}, created_at, id"  # whitelisted fragments only
    return await pool.fetch(
        f"""SELECT * FROM reviews
            WHERE shop_id = $1 AND product_id = $2 AND status = 'PUBLISHED' AND erased_at IS NULL
              AND ($3::int IS NULL OR ({sort_key}) < ($3::int, $4::int, $5::timestamptz, $6::uuid))
            ORDER BY {sort_key.replace(",", " DESC,")} DESC
            LIMIT $7""",
        shop, product_id, *(after or (None, None, None, None)), size + 1,
    )


async def moderation_queue(pool: asyncpg.Pool, shop: str, status: str, after: Sequence[Any] | None,
                           size: int) -> list[asyncpg.Record]:
    """Reviews in a status, oldest change first (first come, first moderated)."""
    return await pool.fetch(
        """SELECT * FROM reviews
           WHERE shop_id = $1 AND status = $2 AND erased_at IS NULL
             AND ($3::timestamptz IS NULL OR (updated_at, id) > ($3::timestamptz, $4::uuid))
           ORDER BY updated_at, id LIMIT $5""",
        shop, status, *(after or (None, None)), size + 1,
    )


# ---- review requests ---------------------------------------------------------------------------


async def add_request(conn: Connection, shop: str, customer_id: str, product_id: str, order_id: str,
                      delivered_at: datetime, due_at: datetime) -> bool:
    return bool(await conn.fetchval(
        """INSERT INTO review_requests (shop_id, customer_id, product_id, order_id, delivered_at, due_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true""",
        shop, customer_id, product_id, order_id, delivered_at, due_at,
    ))


async def request_for_update(conn: Connection, shop: str, customer_id: str,
                             product_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM review_requests WHERE shop_id = $1 AND customer_id = $2 AND product_id = $3 FOR UPDATE",
        shop, customer_id, product_id,
    )


async def mark_requested(conn: Connection, shop: str, customer_id: str, product_id: str) -> None:
    await conn.execute(
        """UPDATE review_requests SET requested_at = now()
           WHERE shop_id = $1 AND customer_id = $2 AND product_id = $3""",
        shop, customer_id, product_id,
    )


async def close_request(conn: Connection, shop: str, customer_id: str, product_id: str) -> bool:
    result = await conn.execute(
        "DELETE FROM review_requests WHERE shop_id = $1 AND customer_id = $2 AND product_id = $3",
        shop, customer_id, product_id,
    )
    return result != "DELETE 0"


async def pending_requests(pool: asyncpg.Pool, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM review_requests WHERE shop_id = $1 AND customer_id = $2 ORDER BY delivered_at DESC, product_id",
        shop, customer_id,
    )


# ---- erasure -----------------------------------------------------------------------------------


async def erase_customer(conn: Connection, shop: str, customer_id: str) -> None:
    """Forget the person: unpublished reviews go; published ones keep only their rating (so the
    product's summary stays right) under a placeholder author and vanish from the page."""
    await conn.execute(
        "DELETE FROM reviews WHERE shop_id = $1 AND customer_id = $2 AND status <> 'PUBLISHED'", shop, customer_id
    )
    await conn.execute(
        """UPDATE reviews SET customer_id = 'erased:' || id::text, order_id = NULL, title = NULL, body = '',
               media_urls = '{}', hashtags = '{}', challenge_id = NULL, erased_at = now(), updated_at = now()
           WHERE shop_id = $1 AND customer_id = $2""",
        shop, customer_id,
    )
    await conn.execute("DELETE FROM review_votes WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("DELETE FROM purchases WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
    await conn.execute("DELETE FROM review_requests WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
