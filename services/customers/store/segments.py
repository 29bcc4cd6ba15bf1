"""SQL of segments: a shop's thresholds, the facts the segment rules read, the segment and score
each customer holds, the counters (customers per segment, and the folding of every counter log)
and the RFM scores of the daily pass."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from services.customers.store.orders import COUNTING, NET
from shared.db import Connection, Executor


async def rules(conn: Executor, shop: str) -> asyncpg.Record | None:
    """The shop's thresholds as stored, with their version (None: the defaults)."""
    return await conn.fetchrow("SELECT rules, version FROM segment_rules WHERE shop_id = $1", shop)


async def lock_rules(conn: Connection, shop: str) -> None:
    """Serialises the shop's threshold changes, so two admins saving at once make two versions."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('segment_rules'), hashtext($1))", shop)


async def save_rules(conn: Connection, shop: str, version: int, stored: dict[str, Any]) -> None:
    """The shop's thresholds as version `version`; every version is kept (segment_rule_versions)."""
    await conn.execute(
        """INSERT INTO segment_rules (shop_id, rules, version) VALUES ($1, $2, $3)
           ON CONFLICT (shop_id) DO UPDATE SET rules = EXCLUDED.rules, version = EXCLUDED.version,
               updated_at = now()""",
        shop, stored, version,
    )
    await conn.execute(
        "INSERT INTO segment_rule_versions (shop_id, version, rules) VALUES ($1, $2, $3)", shop, version, stored)


class Since(NamedTuple):
    """The moment the facts are taken at, and where each of the rules' windows starts."""
    now: datetime
    orders: datetime      # counting orders (regular_days)
    vip_emails: datetime  # emails sent and opened (vip_email_days)
    offers: datetime      # discount emails never opened (email_days)
    visits: datetime      # site visits (visit_days)
    vip_orders: datetime  # VIP's counting orders and their net amount (vip_days)


def _facts_query(batch: bool) -> str:
    """Facts of one customer ($8 = the id), or of the customers with ids in ($8, $9]. (A range
    scan: `id = ANY(2,000 ids)` took 2-4 times as long on the 1M-customer bench shop.)"""
    where = "c.id > $8 AND c.id <= $9 ORDER BY c.id" if batch else "c.id = $8"
    return f"""
        SELECT c.id, c.segment, c.engagement_score, c.orders_count, c.total_spent, c.first_order_at,
               c.last_order_at,
               (SELECT count(*) FROM orders o
                 WHERE o.shop_id = c.shop_id AND o.customer_id = c.id AND o.status IN {COUNTING}
                   AND o.placed_at > $3 AND o.placed_at <= $2) AS orders_recent,
               (SELECT p.probability_active FROM predictions p
                 WHERE p.shop_id = c.shop_id AND p.customer_id = c.id) AS probability_active,
               v.orders_vip, v.spent_vip,
               e.*
        FROM customers c
        CROSS JOIN LATERAL (
            SELECT count(*) AS orders_vip, coalesce(sum({NET}), 0) AS spent_vip FROM orders o
             WHERE o.shop_id = c.shop_id AND o.customer_id = c.id AND o.status IN {COUNTING}
               AND o.placed_at > $7 AND o.placed_at <= $2
        ) v
        LEFT JOIN LATERAL (
            SELECT count(*) FILTER (WHERE kind = 'EMAIL_SENT' AND at > $4) AS sent_vip,
                   count(DISTINCT coalesce(notification_id, id::text))
                       FILTER (WHERE kind IN ('EMAIL_OPEN', 'EMAIL_CLICK') AND at > $4) AS opened_vip,
                   count(*) FILTER (WHERE kind = 'EMAIL_SENT' AND offer AND at > $5 AND NOT EXISTS (
                       SELECT 1 FROM engagements seen
                       WHERE seen.shop_id = e.shop_id AND seen.customer_id = e.customer_id
                         AND seen.notification_id = e.notification_id
                         AND seen.kind IN ('EMAIL_OPEN', 'EMAIL_CLICK'))) AS offers_ignored,
                   coalesce(bool_or(kind = 'SITE_VISIT' AND at > $6), false) AS visited_recent
            FROM engagements e
            WHERE e.shop_id = c.shop_id AND e.customer_id = c.id AND e.at > least($4, $5, $6) AND e.at <= $2
        ) e ON true
        WHERE c.shop_id = $1 AND c.erased_at IS NULL AND {where}"""


async def facts(conn: Connection, shop: str, customer_id: str, since: Since) -> asyncpg.Record | None:
    """The customer's segment, score and facts (None for an unknown or erased customer)."""
    return await conn.fetchrow(_facts_query(False), shop, *since, customer_id)


async def facts_between(conn: Connection, shop: str, after: str, last: str, since: Since) -> list[asyncpg.Record]:
    """The same for the live customers with ids in (after, last], by id."""
    return await conn.fetch(_facts_query(True), shop, *since, after, last)


async def lock_batch(conn: Connection, shop: str, after: str, size: int) -> list[str]:
    """Lock the next `size` live customers after `after` by id; their ids."""
    return [r["id"] for r in await conn.fetch(
        """SELECT id FROM customers WHERE shop_id = $1 AND erased_at IS NULL AND id > $2
           ORDER BY id LIMIT $3 FOR UPDATE""", shop, after, size)]


async def save_segments(conn: Connection, shop: str, now: datetime, moved: list[tuple[str, str, int]]) -> None:
    """Store each (customer id, segment, score) in one statement; segment_since moves to `now`
    where the segment changes."""
    await conn.execute(
        """UPDATE customers c SET engagement_score = m.score, segment = m.segment,
               segment_since = CASE WHEN c.segment = m.segment THEN c.segment_since ELSE $2 END
           FROM unnest($3::text[], $4::text[], $5::int[]) AS m(id, segment, score)
           WHERE c.shop_id = $1 AND c.id = m.id""",
        shop, now, [m[0] for m in moved], [m[1] for m in moved], [m[2] for m in moved],
    )


async def sizes(conn: Executor, shop: str) -> dict[str, int]:
    """Live customers per segment that has any, from the counters customers' triggers keep
    (migration 0012)."""
    rows = await conn.fetch(
        "SELECT segment, sum(customers)::bigint AS n FROM segment_sizes WHERE shop_id = $1 GROUP BY segment",
        shop,
    )
    return {r["segment"]: r["n"] for r in rows}


async def members(conn: Executor, shop: str, segment: str, size: int, after: str | None) -> list[asyncpg.Record]:
    """One page of a segment's customers (not erased), by id (customers_segment index)."""
    return await conn.fetch(
        """SELECT * FROM customers WHERE shop_id = $1 AND segment = $2 AND erased_at IS NULL
             AND ($3::text IS NULL OR id > $3)
           ORDER BY id LIMIT $4""",
        shop, segment, after, size + 1,
    )


async def fold_counters(conn: Connection, shop: str) -> None:
    """Fold the shop's counter logs (activity spells per day, cohort months, live customers per
    segment) into one row per key. Rows that concurrent transactions add meanwhile are not seen, so
    they stay as they are; the sums do not change."""
    await conn.execute(
        """WITH folded AS (DELETE FROM active_spells WHERE shop_id = $1 RETURNING day, starts, ends)
           INSERT INTO active_spells (shop_id, day, starts, ends)
           SELECT $1, day, sum(starts), sum(ends) FROM folded GROUP BY day HAVING sum(starts) <> 0 OR sum(ends) <> 0""",
        shop,
    )
    await conn.execute(
        """WITH folded AS (DELETE FROM cohort_months WHERE shop_id = $1
                           RETURNING first_month, active_month, customers)
           INSERT INTO cohort_months (shop_id, first_month, active_month, customers)
           SELECT $1, first_month, active_month, sum(customers) FROM folded GROUP BY first_month, active_month
           HAVING sum(customers) <> 0""",
        shop,
    )
    await conn.execute(
        """WITH folded AS (DELETE FROM segment_sizes WHERE shop_id = $1 RETURNING segment, customers)
           INSERT INTO segment_sizes (shop_id, segment, customers)
           SELECT $1, segment, sum(customers) FROM folded GROUP BY segment HAVING sum(customers) <> 0""",
        shop,
    )


# A daily-pass statement over a whole shop: RFM over the active base of the 1M-customer bench shop
# took 9-12 s into rfm_scores (25-31 s when it wrote customer rows); a few times that shop would pass
# the pool's 30 s command timeout.
WHOLE_SHOP_TIMEOUT = 600


async def refresh_rfm(conn: Connection, shop: str, now: datetime, active_since: datetime) -> None:
    """RFM scores 1-5 by quintile of rank in the active base (a counting order in
    [active_since, now)). Ties share the lower score; customers outside the active base have no
    score. One statement writes the scores that changed and deletes those of customers who left
    the base, in rfm_scores, which nothing else locks (migration 0013): customers' rows, which every
    order transition locks, are not touched."""
    await conn.execute(
        f"""WITH base AS (
                SELECT customer_id, max(placed_at) AS last_at, count(*) AS n, sum({NET}) AS spent
                FROM orders
                WHERE shop_id = $1 AND status IN {COUNTING}
                  AND placed_at >= $3 AND placed_at < $2
                GROUP BY customer_id),
            scored AS (
                SELECT customer_id,
                       1 + floor(5 * (rank() OVER (ORDER BY last_at) - 1)::numeric / count(*) OVER ()) AS r,
                       1 + floor(5 * (rank() OVER (ORDER BY n) - 1)::numeric / count(*) OVER ()) AS f,
                       1 + floor(5 * (rank() OVER (ORDER BY spent) - 1)::numeric / count(*) OVER ()) AS m
                FROM base),
            written AS (
                INSERT INTO rfm_scores AS s (shop_id, customer_id, recency, frequency, monetary)
                SELECT $1, customer_id, r, f, m FROM scored
                ON CONFLICT (shop_id, customer_id) DO UPDATE
                    SET recency = EXCLUDED.recency, frequency = EXCLUDED.frequency, monetary = EXCLUDED.monetary
                    WHERE (s.recency, s.frequency, s.monetary)
                          IS DISTINCT FROM (EXCLUDED.recency, EXCLUDED.frequency, EXCLUDED.monetary))
            DELETE FROM rfm_scores s
            WHERE s.shop_id = $1 AND NOT EXISTS (SELECT 1 FROM scored WHERE scored.customer_id = s.customer_id)""",
        shop, now, active_since, timeout=WHOLE_SHOP_TIMEOUT,
    )
    await conn.execute(
        """INSERT INTO rfm_runs (shop_id, computed_at) VALUES ($1, $2)
           ON CONFLICT (shop_id) DO UPDATE SET computed_at = EXCLUDED.computed_at""",
        shop, now,
    )


async def rfm_scores(conn: Executor, shop: str, customer_ids: list[str]) -> list[asyncpg.Record]:
    """The scores of those customers in the active base from the last daily pass, with its time."""
    return await conn.fetch(
        """SELECT s.customer_id, s.recency, s.frequency, s.monetary, r.computed_at
           FROM rfm_scores s JOIN rfm_runs r ON r.shop_id = s.shop_id
           WHERE s.shop_id = $1 AND s.customer_id = ANY($2::text[])""",
        shop, customer_ids,
    )
