"""All SQL of the customers service. Each write commits its state and its events together."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from services.customers.birthdays import greeting_at, is_birthday, next_greeting
from services.customers.metrics import Counts
from services.customers.orders import NewOrder, change_status, net_amount
from services.customers.profiles import Profile
from services.customers.segments import SEGMENTS, Facts, SegmentRules, engagement_score, segment
from services.customers.shopify import Refund
from shared import events, outbox, schedule
from shared.db import Connection, Executor
from shared.errors import Conflict, NotFound
from shared.money import in_minor_units

SOURCE = "customers"
_PROFILE_FIELDS = ("email", "first_name", "last_name", "locale", "timezone", "birthday", "phone",
                   "accepts_email", "accepts_sms", "accepts_whatsapp")


async def get_customer(conn: Executor, shop: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM customers WHERE shop_id = $1 AND id = $2", shop, customer_id)


async def upsert_customer(pool: asyncpg.Pool, shop: str, p: Profile) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        return await save_profile(conn, shop, p)


async def save_profile(conn: Connection, shop: str, p: Profile) -> asyncpg.Record:
    existing = await conn.fetchrow(
        "SELECT * FROM customers WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, p.id
    )
    values = asdict(p)
    if existing is None:
        row = await conn.fetchrow(
            """INSERT INTO customers (shop_id, id, email, first_name, last_name, locale, timezone,
                   birthday, phone, accepts_email, accepts_sms, accepts_whatsapp, referral_code, device_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               RETURNING *""",
            shop, p.id, p.email, p.first_name, p.last_name, p.locale, p.timezone, p.birthday,
            p.phone, p.accepts_email, p.accepts_sms, p.accepts_whatsapp, p.referral_code, p.device_id,
        )
        await outbox.add(conn, events.CustomerRegistered(
            shop=shop, customer_id=p.id,
            **{k: values[k] for k in _PROFILE_FIELDS if k != "phone"},
            referral_code=p.referral_code, device_id=p.device_id,
        ), source=SOURCE)
        await schedule_daily(conn, shop, datetime.now(UTC))
        await schedule_birthday(conn, shop, row)
        await refresh_customer(conn, shop, p.id)  # the engagement score of someone who has done nothing yet
        return await get_customer(conn, shop, p.id)
    if existing["erased_at"] is not None:
        raise Conflict(f"customer {p.id} was erased and cannot be changed")
    if all(existing[k] == values[k] for k in _PROFILE_FIELDS):
        return existing  # a replay of the same profile: no change, no event
    row = await conn.fetchrow(
        """UPDATE customers SET email = $3, first_name = $4, last_name = $5, locale = $6,
               timezone = $7, birthday = $8, phone = $9, accepts_email = $10, accepts_sms = $11,
               accepts_whatsapp = $12, updated_at = now()
           WHERE shop_id = $1 AND id = $2
           RETURNING *""",
        shop, p.id, p.email, p.first_name, p.last_name, p.locale, p.timezone, p.birthday,
        p.phone, p.accepts_email, p.accepts_sms, p.accepts_whatsapp,
    )
    await outbox.add(conn, events.CustomerUpdated(
        shop=shop, customer_id=p.id, **{k: values[k] for k in _PROFILE_FIELDS if k != "phone"},
    ), source=SOURCE)
    if (existing["birthday"], existing["timezone"]) != (row["birthday"], row["timezone"]):
        await schedule.cancel(conn, shop=shop, kind=BIRTHDAY_JOB, dedup_key_prefix=_birthday_prefix(p.id))
        await schedule_birthday(conn, shop, row)
    return row


# ---- jobs ----------------------------------------------------------------------------------

DAILY_JOB = "customers.daily"
BIRTHDAY_JOB = "customer.birthday"
DAILY_AT_HOUR = 3  # UTC


def _birthday_prefix(customer_id: str) -> str:
    return f"{customer_id}\x1f"  # ids never hold control characters (shared.ids)


async def schedule_daily(conn: Connection, shop: str, after: datetime) -> None:
    """The shop's next daily pass (once per shop and day, whoever schedules it first)."""
    due = datetime.combine(after.astimezone(UTC).date(), time(DAILY_AT_HOUR), tzinfo=UTC)
    if due <= after:
        due += timedelta(days=1)
    await schedule.schedule(conn, shop=shop, kind=DAILY_JOB, dedup_key=due.date().isoformat(), due_at=due)


async def schedule_birthday(conn: Connection, shop: str, row: asyncpg.Record, *,
                            year: int | None = None) -> None:
    if row["birthday"] is None or row["erased_at"] is not None:
        return
    now = datetime.now(UTC)
    if year is None:
        year, due = next_greeting(row["birthday"], row["timezone"], now)
    else:
        due = greeting_at(row["birthday"], row["timezone"], year)
    await schedule.schedule(
        conn, shop=shop, kind=BIRTHDAY_JOB,
        dedup_key=f"{_birthday_prefix(row['id'])}{year}-{row['birthday'].isoformat()}", due_at=due,
        payload={"customer_id": row["id"], "year": year},
    )


async def greet_birthday(conn: Connection, shop: str, customer_id: str, year: int) -> bool:
    """Publish customer.birthday once per customer and year, then schedule next year's."""
    row = await conn.fetchrow(
        "SELECT * FROM customers WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, customer_id
    )
    if row is None or row["birthday"] is None or row["erased_at"] is not None:
        return False
    greeted = False
    if (row["birthday_greeted_year"] or 0) < year and is_birthday(row["birthday"], row["timezone"],
                                                                    datetime.now(UTC), year):
        await conn.execute(
            "UPDATE customers SET birthday_greeted_year = $3 WHERE shop_id = $1 AND id = $2", shop, customer_id, year
        )
        await outbox.add(conn, events.CustomerBirthday(shop=shop, customer_id=customer_id, year=year), source=SOURCE)
        greeted = True
    await schedule_birthday(conn, shop, row, year=year + 1)
    return greeted


async def get_order(conn: Executor, shop: str, order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM orders WHERE shop_id = $1 AND id = $2", shop, order_id)


async def order_lines(conn: Connection, shop: str, order_id: str, currency: str) -> list[events.OrderLine]:
    rows = await conn.fetch(
        "SELECT product_id, quantity, unit_price FROM order_lines WHERE shop_id = $1 AND order_id = $2"
        " ORDER BY line_no",
        shop, order_id,
    )
    return [events.OrderLine(product_id=r["product_id"], quantity=r["quantity"],
                             unit_price=in_minor_units(r["unit_price"], currency)) for r in rows]


def _order_event_fields(shop: str, row: asyncpg.Record) -> dict[str, Any]:
    currency = row["currency"]
    net = net_amount(row["total"], row["shipping_total"], row["tax_total"], row["refunded_total"])
    return {
        "shop": shop,
        "order_id": row["id"],
        "customer_id": row["customer_id"],
        "currency": currency,
        "total": in_minor_units(row["total"], currency),
        "net_amount": in_minor_units(net, currency),
        "placed_at": row["placed_at"],
    }


async def record_order(pool: asyncpg.Pool, shop: str, o: NewOrder) -> asyncpg.Record:
    """Insert an order once; sending the same order id again returns what is stored."""
    async with pool.acquire() as conn, conn.transaction():
        return await insert_order(conn, shop, o)


async def insert_order(conn: Connection, shop: str, o: NewOrder) -> asyncpg.Record:
    if await get_customer(conn, shop, o.customer_id) is None:
        raise NotFound(f"unknown customer {o.customer_id}; upsertCustomer first", field="customerId")
    row = await conn.fetchrow(
        """INSERT INTO orders (shop_id, id, customer_id, currency, status, discount_total,
               shipping_total, tax_total, total, placed_at, referral_code, discount_codes,
               shipping_address_hash, payment_fingerprint, device_id)
           VALUES ($1, $2, $3, $4, 'PLACED', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (shop_id, id) DO NOTHING
           RETURNING *""",
        shop, o.id, o.customer_id, o.currency, o.discount_total, o.shipping_total, o.tax_total,
        o.total, o.placed_at, o.referral_code, list(o.discount_codes), o.shipping_address_hash,
        o.payment_fingerprint, o.device_id,
    )
    if row is None:
        existing = await get_order(conn, shop, o.id)
        assert existing is not None
        if existing["customer_id"] != o.customer_id or existing["total"] != o.total \
                or existing["currency"] != o.currency:
            raise Conflict(f"order {o.id} was already recorded with other data")
        return existing
    await conn.executemany(
        """INSERT INTO order_lines (shop_id, order_id, line_no, product_id, quantity, unit_price)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(shop, o.id, i, line.product_id, line.quantity, line.unit_price) for i, line in enumerate(o.lines)],
    )
    await outbox.add(conn, events.OrderPlaced(
        **_order_event_fields(shop, row),
        lines=[events.OrderLine(product_id=x.product_id, quantity=x.quantity, unit_price=x.unit_price)
               for x in o.lines],
        referral_code=o.referral_code, discount_codes=list(o.discount_codes),
        shipping_address_hash=o.shipping_address_hash, payment_fingerprint=o.payment_fingerprint,
        device_id=o.device_id,
    ), source=SOURCE)
    return row


async def _lock_customer(conn: Connection, shop: str, customer_id: str) -> None:
    """Serialise the changes to one customer's orders: the customer's row first, then orders. Every
    writer of an order's status or chain takes them in this order, so they cannot deadlock."""
    await conn.execute("SELECT 1 FROM customers WHERE shop_id = $1 AND id = $2 FOR NO KEY UPDATE",
                       shop, customer_id)


async def _lock_order(conn: Connection, shop: str, order_id: str) -> asyncpg.Record:
    customer_id = await conn.fetchval("SELECT customer_id FROM orders WHERE shop_id = $1 AND id = $2",
                                      shop, order_id)
    if customer_id is None:
        raise NotFound(f"unknown order {order_id}", field="id")
    await _lock_customer(conn, shop, customer_id)  # an order never changes customer
    row = await conn.fetchrow("SELECT * FROM orders WHERE shop_id = $1 AND id = $2 FOR NO KEY UPDATE",
                              shop, order_id)
    assert row is not None
    return row


_STAMP = {"PAID": "paid_at", "SHIPPED": "shipped_at", "DELIVERED": "delivered_at",
          "CANCELLED": "cancelled_at", "REFUNDED": "refunded_at"}


async def update_order_status(
    pool: asyncpg.Pool, shop: str, order_id: str, status: str, refunded_amount: Decimal | None,
    at: datetime | None = None,
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        return await change_order_status(conn, shop, order_id, status, refunded_amount, at)


async def change_order_status(
    conn: Connection, shop: str, order_id: str, status: str, refunded_amount: Decimal | None,
    at: datetime | None = None,
) -> asyncpg.Record:
    """Apply a status update inside the caller's transaction; the customer's summary and segment
    follow in the same transaction."""
    row = await _lock_order(conn, shop, order_id)
    change = change_status(row["status"], status, total=row["total"],
                           refunded_total=row["refunded_total"], refunded_amount=refunded_amount)
    if change.event is None:
        return row
    stamp = _STAMP[status]
    row = await conn.fetchrow(
        f"""UPDATE orders SET status = $3, refunded_total = $4, {stamp} = coalesce($5, now()),
               updated_at = now()
            WHERE shop_id = $1 AND id = $2
            RETURNING *""",
        shop, order_id, change.status, change.refunded_total, at,
    )
    fields = _order_event_fields(shop, row)
    payload: events.EventData
    if change.event == "order.paid":
        payload = events.OrderPaid(**fields, referral_code=row["referral_code"])
    elif change.event == "order.shipped":
        payload = events.OrderShipped(**fields)
    elif change.event == "order.delivered":
        payload = events.OrderDelivered(**fields, lines=await order_lines(conn, shop, order_id, row["currency"]))
    elif change.event == "order.cancelled":
        payload = events.OrderCancelled(**fields)
    else:
        payload = events.OrderRefunded(**fields, refunded_amount=change.refunded_total,
                                       fully_refunded=change.status == "REFUNDED")
    await outbox.add(conn, payload, source=SOURCE)
    await refresh_customer(conn, shop, row["customer_id"])
    return row


async def list_orders(pool: asyncpg.Pool, shop: str, customer_id: str, size: int,
                      after: list | None) -> list[asyncpg.Record]:
    if after is None:
        return await pool.fetch(
            """SELECT * FROM orders WHERE shop_id = $1 AND customer_id = $2
               ORDER BY placed_at DESC, id DESC LIMIT $3""",
            shop, customer_id, size + 1,
        )
    placed_at, last_id = after
    return await pool.fetch(
        """SELECT * FROM orders WHERE shop_id = $1 AND customer_id = $2
             AND (placed_at, id) < ($3, $4)
           ORDER BY placed_at DESC, id DESC LIMIT $5""",
        shop, customer_id, placed_at, last_id, size + 1,
    )


# ---- summary and segments ------------------------------------------------------------------

COUNTING = "('PAID', 'SHIPPED', 'DELIVERED')"
_NET = "greatest(total - shipping_total - tax_total - refunded_total, 0)"


async def rules_for(conn: Executor, shop: str) -> SegmentRules:
    return SegmentRules.from_json(await conn.fetchval("SELECT rules FROM segment_rules WHERE shop_id = $1", shop))


async def save_rules(pool: asyncpg.Pool, shop: str, rules: SegmentRules) -> SegmentRules:
    await pool.execute(
        """INSERT INTO segment_rules (shop_id, rules) VALUES ($1, $2)
           ON CONFLICT (shop_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now()""",
        shop, rules.to_json(),
    )
    return rules


# A customer is active at t with a counting order in [t - ACTIVE_WINDOW, t) (DOMAIN.md); migration 0007
# explains the order chain and the activity spells built on it.
ACTIVE_WINDOW = timedelta(days=365)
_WINDOW_SQL = "interval '8760 hours'"  # ACTIVE_WINDOW in hours: '365 days' would follow the session's DST


def _utc_month(column: str) -> str:
    return f"date_trunc('month', {column} AT TIME ZONE 'UTC')::date"


def _opens_month(first_at: str, prev_at: str) -> str:
    """The order counts and is its customer's first counting order of its UTC month."""
    return f"{first_at} IS NOT NULL AND ({prev_at} IS NULL OR {_utc_month(prev_at)} < {_utc_month('placed_at')})"


# The chain upkeep of the orders of the customers that {customers} picks (a condition on customer_id):
# each counting order's neighbours among its customer's counting orders (by placed_at, then id), its
# net amount (stored so the period scan is index-only) and whether it starts or ends an activity
# spell. Only orders whose chain moved are written, and the spell and cohort logs get the difference
# between what each order counted for and what it counts for now, so running it again changes nothing.
# Migration 0008 holds a frozen copy for the orders that were there before.
_CHAIN_UPKEEP = f"""
    WITH chain AS (
        SELECT id, {_NET} AS counted_net,
               lag(placed_at) OVER w AS prev_at, lag(placed_at, 2) OVER w AS prev2_at,
               lead(placed_at) OVER w AS next_at, first_value(placed_at) OVER w AS first_at,
               lag(placed_at) OVER w IS NULL OR lag(placed_at) OVER w < placed_at - {_WINDOW_SQL} AS spell_start,
               lead(placed_at) OVER w IS NULL OR lead(placed_at) OVER w > placed_at + {_WINDOW_SQL} AS spell_end
        FROM orders WHERE shop_id = $1 AND {{customers}} AND status IN {COUNTING}
        WINDOW w AS (PARTITION BY customer_id ORDER BY placed_at, id)),
    wanted AS (
        SELECT o.id, o.placed_at, o.spell_start AS was_start, o.spell_end AS was_end,
               o.first_at AS was_first_at, o.prev_at AS was_prev_at,
               c.prev_at, c.prev2_at, c.next_at, c.first_at, c.counted_net,
               coalesce(c.spell_start, false) AS spell_start, coalesce(c.spell_end, false) AS spell_end
        FROM orders o LEFT JOIN chain c ON c.id = o.id
        WHERE o.shop_id = $1 AND {{customers}}),
    moved AS (
        UPDATE orders o SET prev_at = w.prev_at, prev2_at = w.prev2_at, next_at = w.next_at,
               first_at = w.first_at, counted_net = w.counted_net, spell_start = w.spell_start,
               spell_end = w.spell_end
        FROM wanted w
        WHERE o.shop_id = $1 AND o.id = w.id
          AND (o.prev_at, o.prev2_at, o.next_at, o.first_at, o.counted_net, o.spell_start, o.spell_end)
              IS DISTINCT FROM (w.prev_at, w.prev2_at, w.next_at, w.first_at, w.counted_net,
                                w.spell_start, w.spell_end)),
    cohort_moves AS (
        INSERT INTO cohort_months (shop_id, first_month, active_month, customers)
        SELECT $1, first_month, active_month, sum(d) FROM (
            SELECT {_utc_month("first_at")} AS first_month, {_utc_month("placed_at")} AS active_month, 1 AS d
            FROM wanted WHERE {_opens_month("first_at", "prev_at")}
            UNION ALL
            SELECT {_utc_month("was_first_at")}, {_utc_month("placed_at")}, -1
            FROM wanted WHERE {_opens_month("was_first_at", "was_prev_at")}) moves
        GROUP BY 2, 3 HAVING sum(d) <> 0)
    INSERT INTO active_spells (shop_id, day, starts, ends)
    SELECT $1, (placed_at AT TIME ZONE 'UTC')::date,
           sum(spell_start::int - was_start::int), sum(spell_end::int - was_end::int)
    FROM wanted WHERE spell_start <> was_start OR spell_end <> was_end
    GROUP BY 2"""


async def _summarise_orders(conn: Connection, shop: str, customer_id: str) -> None:
    """Keep the customer's counting-order summary (stats, first/second/last order), the chain of
    their orders and the shop's activity spells and cohort months current. It holds the customer's
    row lock first (callers that lock an order have taken it already), so no other transaction moves
    the same chain meanwhile and what each order counted for is what the logs say."""
    await _lock_customer(conn, shop, customer_id)
    await conn.execute(_CHAIN_UPKEEP.format(customers="customer_id = $2"), shop, customer_id)
    # first_order_id and second_order_at are read by nobody since 0007; they stay current for the
    # previous version's retentionMetrics during a rollout, and go with the contract release.
    await conn.execute(
        f"""WITH o AS (
                SELECT id, placed_at, currency, {_NET} AS net,
                       row_number() OVER (ORDER BY placed_at, id) AS n
                FROM orders WHERE shop_id = $1 AND customer_id = $2 AND status IN {COUNTING})
            UPDATE customers SET
                orders_count = (SELECT count(*) FROM o),
                total_spent = (SELECT coalesce(sum(net), 0) FROM o),
                spent_currency = coalesce((SELECT currency FROM o ORDER BY n DESC LIMIT 1), spent_currency),
                first_order_id = (SELECT id FROM o WHERE n = 1),
                first_order_at = (SELECT placed_at FROM o WHERE n = 1),
                second_order_at = (SELECT placed_at FROM o WHERE n = 2),
                last_order_at = (SELECT max(placed_at) FROM o)
            WHERE shop_id = $1 AND id = $2""",
        shop, customer_id,
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


async def rebuild_order_chains(conn: Connection, shop: str) -> None:
    """Recompute every order chain, activity spell and cohort month of a shop from nothing, in the
    caller's transaction: for orders written straight into the tables (the bench seed), and the
    reference the tests hold the upkeep of many single transitions to."""
    await conn.execute(
        """UPDATE orders SET prev_at = NULL, prev2_at = NULL, next_at = NULL, first_at = NULL, counted_net = NULL,
               spell_start = false, spell_end = false
           WHERE shop_id = $1 AND (first_at IS NOT NULL OR counted_net IS NOT NULL OR spell_start OR spell_end)""",
        shop,
    )
    await conn.execute("DELETE FROM active_spells WHERE shop_id = $1", shop)
    await conn.execute("DELETE FROM cohort_months WHERE shop_id = $1", shop)
    await conn.execute(_CHAIN_UPKEEP.format(customers="true"), shop)


def _facts_query(batch: bool) -> str:
    """Facts of one customer ($7 = the id), or of the customers with ids in ($7, $8]. (A range
    scan: `id = ANY(2,000 ids)` took 2-4 times as long on the 1M-customer bench shop.)"""
    where = "c.id > $7 AND c.id <= $8 ORDER BY c.id" if batch else "c.id = $7"
    return f"""
        SELECT c.id, c.segment, c.engagement_score, c.orders_count, c.total_spent, c.first_order_at,
               c.last_order_at,
               (SELECT count(*) FROM orders o
                 WHERE o.shop_id = c.shop_id AND o.customer_id = c.id AND o.status IN {COUNTING}
                   AND o.placed_at > $3 AND o.placed_at <= $2) AS orders_recent,
               e.*
        FROM customers c
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


def _facts_args(shop: str, rules: SegmentRules, now: datetime, *key: str) -> list[Any]:
    return [shop, now, now - timedelta(days=rules.regular_days), now - timedelta(days=rules.vip_email_days),
            now - timedelta(days=rules.email_days), now - timedelta(days=rules.visit_days), *key]


def _facts(row: asyncpg.Record) -> Facts:
    return Facts(
        orders_count=row["orders_count"], total_spent=row["total_spent"], first_order_at=row["first_order_at"],
        last_order_at=row["last_order_at"], orders_recent=row["orders_recent"],
        emails_sent_vip=row["sent_vip"], emails_opened_vip=row["opened_vip"],
        offers_ignored=row["offers_ignored"],
        visited_recent=row["visited_recent"],
    )


async def _apply_segments(conn: Connection, shop: str, rows: list[asyncpg.Record], rules: SegmentRules,
                          now: datetime) -> int:
    """Store the segment and score of each customer whose values moved (one statement for the
    lot) and announce each segment change. Returns how many customers moved."""
    moved: list[tuple[str, str, int]] = []
    for row in rows:
        facts = _facts(row)
        new_segment, score = segment(facts, rules, now), engagement_score(facts, rules, now)
        if (new_segment, score) != (row["segment"], row["engagement_score"]):
            moved.append((row["id"], new_segment, score))
    if not moved:
        return 0
    await conn.execute(
        """UPDATE customers c SET engagement_score = m.score, segment = m.segment,
               segment_since = CASE WHEN c.segment = m.segment THEN c.segment_since ELSE $2 END
           FROM unnest($3::text[], $4::text[], $5::int[]) AS m(id, segment, score)
           WHERE c.shop_id = $1 AND c.id = m.id""",
        shop, now, [m[0] for m in moved], [m[1] for m in moved], [m[2] for m in moved],
    )
    before = {row["id"]: row["segment"] for row in rows}
    await outbox.add_many(conn, [
        events.CustomerSegmentChanged(shop=shop, customer_id=customer_id, from_segment=before[customer_id],
                                      to_segment=new_segment)
        for customer_id, new_segment, _ in moved if new_segment != before[customer_id]
    ], source=SOURCE)
    return len(moved)


async def refresh_customer(conn: Connection, shop: str, customer_id: str,
                           now: datetime | None = None) -> None:
    """Recompute one customer's order summary, engagement score and segment (inside the caller's
    transaction); publishes customer.segment_changed when the segment moves."""
    now = now or datetime.now(UTC)
    await _summarise_orders(conn, shop, customer_id)
    rules = await rules_for(conn, shop)
    row = await conn.fetchrow(_facts_query(False), *_facts_args(shop, rules, now, customer_id))
    if row is not None:
        await _apply_segments(conn, shop, [row], rules, now)


DAILY_BATCH = 2000  # customers per batch of the daily segment pass


async def refresh_segments_batch(conn: Connection, shop: str, now: datetime, after: str,
                                 size: int = DAILY_BATCH) -> tuple[str | None, int]:
    """One batch of the daily segment pass, in the caller's transaction: segments move with time
    alone (NEW ages, AT_RISK after quiet days). Takes the `size` customers after `after` by id;
    returns the last id when more may follow (else None) and how many customers changed.

    The batch's customers are locked before their facts are read, as an order transition locks its
    customer before it moves the segment: facts read first could be overtaken by a transition
    committing meanwhile, and the batch would then write (and announce) a segment from before it."""
    rules = await rules_for(conn, shop)
    ids = [r["id"] for r in await conn.fetch(
        """SELECT id FROM customers WHERE shop_id = $1 AND erased_at IS NULL AND id > $2
           ORDER BY id LIMIT $3 FOR UPDATE""", shop, after, size)]
    if not ids:
        return None, 0
    locked = set(ids)  # a customer added inside the range since is not locked: the next pass has them
    rows = [r for r in await conn.fetch(_facts_query(True), *_facts_args(shop, rules, now, after, ids[-1]))
            if r["id"] in locked]
    changed = await _apply_segments(conn, shop, rows, rules, now)
    return (ids[-1] if len(ids) == size else None), changed


async def finish_daily_pass(conn: Connection, shop: str, now: datetime) -> None:
    """After the last segment batch: RFM quintiles over the active base, and the counter logs folded."""
    await refresh_rfm(conn, shop, now)
    await fold_counters(conn, shop)


async def refresh_shop(pool: asyncpg.Pool, shop: str, now: datetime | None = None) -> int:
    """The whole daily pass now (refreshSegments): the batches of the scheduled pass
    (jobs.daily_pass), each committing on its own as there, so a large shop's run never holds the
    customers it moved until the end. Returns how many customers changed segment or engagement
    score."""
    now = now or datetime.now(UTC)
    changed, last = 0, ""
    while True:
        async with pool.acquire() as conn, conn.transaction():
            more, moved = await refresh_segments_batch(conn, shop, now, last)
        changed += moved
        if more is None:
            break
        last = more
    async with pool.acquire() as conn, conn.transaction():
        await finish_daily_pass(conn, shop, now)
    return changed


# Where the scores were kept before 0013. Nobody reads them since; the previous version writes
# them during a rollout, and they go with the contract release (docs/operations.md).
_OLD_RFM_COLUMNS = ("rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_at")

# A daily-pass statement over a whole shop: RFM over the active base of the 1M-customer bench shop
# took 9-12 s into rfm_scores (25-31 s when it wrote customer rows); a few times that shop would pass
# the pool's 30 s command timeout.
WHOLE_SHOP_TIMEOUT = 600


async def refresh_rfm(conn: Connection, shop: str, now: datetime) -> None:
    """RFM scores 1-5 by quintile of rank in the active base (a counting order in the window).
    Ties share the lower score; customers outside the active base have no score. One statement
    writes the scores that changed and deletes those of customers who left the base, in
    rfm_scores, which nothing else locks (migration 0013): customers' rows, which every order
    transition locks, are not touched."""
    await conn.execute(
        f"""WITH base AS (
                SELECT customer_id, max(placed_at) AS last_at, count(*) AS n, sum({_NET}) AS spent
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
        shop, now, now - ACTIVE_WINDOW, timeout=WHOLE_SHOP_TIMEOUT,
    )
    await conn.execute(
        """INSERT INTO rfm_runs (shop_id, computed_at) VALUES ($1, $2)
           ON CONFLICT (shop_id) DO UPDATE SET computed_at = EXCLUDED.computed_at""",
        shop, now,
    )


async def rfm_scores(conn: Executor, shop: str,
                     customer_ids: list[str]) -> list[asyncpg.Record]:
    """The scores of those customers in the active base from the last daily pass, with its time."""
    return await conn.fetch(
        """SELECT s.customer_id, s.recency, s.frequency, s.monetary, r.computed_at
           FROM rfm_scores s JOIN rfm_runs r ON r.shop_id = s.shop_id
           WHERE s.shop_id = $1 AND s.customer_id = ANY($2::text[])""",
        shop, customer_ids,
    )


async def segment_counts(pool: asyncpg.Pool, shop: str) -> dict[str, int]:
    """Live customers per segment, from the counters customers' triggers keep (migration 0012)."""
    rows = await pool.fetch(
        "SELECT segment, sum(customers)::bigint AS n FROM segment_sizes WHERE shop_id = $1 GROUP BY segment",
        shop,
    )
    counts = dict.fromkeys(SEGMENTS, 0)
    counts.update({r["segment"]: r["n"] for r in rows})
    return counts


async def segment_members(pool: asyncpg.Pool, shop: str, segment_name: str, size: int,
                          after: str | None) -> list[asyncpg.Record]:
    """One page of a segment's customers (not erased), by id (customers_segment index)."""
    return await pool.fetch(
        """SELECT * FROM customers WHERE shop_id = $1 AND segment = $2 AND erased_at IS NULL
             AND ($3::text IS NULL OR id > $3)
           ORDER BY id LIMIT $4""",
        shop, segment_name, after, size + 1,
    )


# ---- engagement ----------------------------------------------------------------------------


async def add_engagement(conn: Connection, shop: str, customer_id: str, kind: str, at: datetime, *,
                         notification_id: str | None = None, key: str | None = None, offer: bool = False) -> bool:
    """Record an engagement and move the segment; False when the key was seen before or the
    customer is unknown to this service (or erased)."""
    customer = await conn.fetchrow(
        "SELECT erased_at FROM customers WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, customer_id
    )
    if customer is None or customer["erased_at"] is not None:
        return False
    inserted = await conn.fetchval(
        """INSERT INTO engagements (shop_id, customer_id, kind, at, notification_id, idempotency_key, offer)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (shop_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
           RETURNING true""",
        shop, customer_id, kind, at, notification_id, key, offer,
    )
    if inserted:
        await refresh_customer(conn, shop, customer_id)
    return bool(inserted)


async def record_engagement(pool: asyncpg.Pool, shop: str, customer_id: str, kind: str, at: datetime,
                            key: str | None) -> bool:
    """True when recorded (now, or before under the same key); False for an erased customer."""
    async with pool.acquire() as conn, conn.transaction():
        row = await get_customer(conn, shop, customer_id)
        if row is None:
            raise NotFound(f"unknown customer {customer_id}", field="customerId")
        if row["erased_at"] is not None:
            return False
        await add_engagement(conn, shop, customer_id, kind, at, key=key)
        return True


async def mark_referral_converted(conn: Connection, shop: str, order_id: str) -> bool:
    result = await conn.execute(
        "UPDATE orders SET referral_converted = true WHERE shop_id = $1 AND id = $2 AND NOT referral_converted",
        shop, order_id,
    )
    return result.endswith(" 1")


# ---- retention metrics ---------------------------------------------------------------------


def _months_between(first: date | datetime, last: date | datetime) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def _utc_midnight(t: datetime) -> datetime:
    return datetime.combine(t.astimezone(UTC).date(), time(), UTC)


def _month_start(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return datetime(t.year, t.month, 1, tzinfo=UTC)


def _next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


async def _cohort_cells(conn: Connection, shop: str, start: datetime,
                        end: datetime) -> dict[tuple[date, date], int]:
    """(cohort month, active month) -> customers whose first counting order lies in [start, end) and
    in the cohort month, with a counting order before `end` in the active month. Cohorts of whole
    months inside the period read the cohort_months counters for their whole active months; the
    partial cohorts at either end and the active month `end` cuts short come from their orders."""
    whole_from = start if start == _month_start(start) else _next_month(_month_start(start))
    whole_to = _month_start(end)
    from_orders = f"""
        SELECT {_utc_month("first_at")} AS first_month, {_utc_month("placed_at")} AS active_month, count(*) AS n
        FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND {_opens_month("first_at", "prev_at")}"""
    rows: list[asyncpg.Record] = []
    if whole_from < whole_to:
        rows += await conn.fetch(
            """SELECT first_month, active_month, sum(customers)::bigint AS n FROM cohort_months
               WHERE shop_id = $1 AND first_month >= $2 AND first_month < $3 AND active_month < $3
               GROUP BY 1, 2""",
            shop, whole_from.date(), whole_to.date(),
        )
        if whole_to < end:
            rows += await conn.fetch(
                from_orders + " AND placed_at >= $2 AND placed_at < $3 AND first_at >= $4 AND first_at < $5"
                " GROUP BY 1, 2",
                shop, whole_to, end, whole_from, whole_to,
            )
    for first_from, first_to in ((start, min(whole_from, end)), (max(whole_to, whole_from), end)):
        if first_from < first_to:
            rows += await conn.fetch(
                from_orders + " AND first_at >= $2 AND first_at < $3 AND placed_at < $4 GROUP BY 1, 2",
                shop, first_from, first_to, end,
            )
    cells: dict[tuple[date, date], int] = {}
    for r in rows:
        key = (r["first_month"], r["active_month"])
        cells[key] = cells.get(key, 0) + r["n"]
    return {key: n for key, n in cells.items() if n}


# Customers active at $4: spells started before it, less spells whose last order lies before $4 - W.
# Whole UTC days come from the active_spells counters, the day in progress from its orders.
_ACTIVE_AT = f"""
    SELECT (SELECT coalesce(sum(starts), 0) FROM active_spells WHERE shop_id = $1 AND day < $2::date)::bigint
         + (SELECT count(*) FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND spell_start
              AND placed_at >= $3 AND placed_at < $4)
         - (SELECT coalesce(sum(ends), 0) FROM active_spells WHERE shop_id = $1 AND day < $5::date)::bigint
         - (SELECT count(*) FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND spell_end
              AND placed_at >= $6 AND placed_at < $7)"""


async def _active_at(conn: Connection, shop: str, t: datetime) -> int:
    day, lapsed = _utc_midnight(t), t - ACTIVE_WINDOW
    lapsed_day = _utc_midnight(lapsed)
    return await conn.fetchval(_ACTIVE_AT, shop, day.date(), day, t, lapsed_day.date(), lapsed_day, lapsed)


async def retention_counts(pool: asyncpg.Pool, shop: str, start: datetime,
                           end: datetime) -> tuple[Counts, str | None]:
    """Aggregate DOMAIN.md's counts for [start, end) in SQL; also the currency of the latest
    counting order (None when the shop has none). S and E read the activity spells (a few rows per
    day of the shop's history) and cohorts mostly the cohort-month counters; the rest is an
    index-only scan of the period's counting orders, filtering on each order's chain: no
    per-customer grouping, no DISTINCT."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        start_active, end_active = await _active_at(conn, shop, start), await _active_at(conn, shop, end)
        # An order is its customer's first in the period when the previous one is older than the
        # period, their second in the period when the one before that is; a first order ever has
        # no previous one. Plain aggregates, so the scan may run in parallel.
        period = await conn.fetchrow(
            f"""SELECT count(*) AS orders, coalesce(sum(counted_net), 0) AS revenue,
                       count(*) FILTER (WHERE prev_at IS NULL OR prev_at < $2) AS buyers,
                       count(*) FILTER (WHERE prev_at >= $2 AND (prev2_at IS NULL OR prev2_at < $2))
                           AS repeat_buyers,
                       count(*) FILTER (WHERE prev_at IS NULL) AS new,
                       count(*) FILTER (WHERE prev_at IS NULL AND referral_converted) AS new_referred,
                       count(*) FILTER (WHERE prev_at IS NULL AND placed_at < $4) AS reorder_base,
                       count(*) FILTER (WHERE prev_at IS NULL AND placed_at < $4
                                          AND next_at <= placed_at + interval '1440 hours') AS reordered
                FROM orders
                WHERE shop_id = $1 AND status IN {COUNTING} AND placed_at >= $2 AND placed_at < $3""",
            shop, start, end, end - timedelta(days=60),
        )
        median = await conn.fetchval(
            f"""SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM placed_at - prev_at) / 86400)
                FROM orders
                WHERE shop_id = $1 AND status IN {COUNTING} AND prev_at IS NOT NULL AND prev2_at IS NULL
                  AND placed_at >= $2 AND placed_at < $3""",
            shop, start, end,
        )
        cells = await _cohort_cells(conn, shop, start, end)
        currency = await conn.fetchval(
            f"""SELECT currency FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND placed_at < $2
                ORDER BY placed_at DESC LIMIT 1""",
            shop, end,
        )
    last = (end - timedelta(microseconds=1)).astimezone(UTC)
    per_month: dict[date, dict[int, int]] = {}
    for (first_month, active_month), n in sorted(cells.items()):
        per_month.setdefault(first_month, {})[_months_between(first_month, active_month)] = n
    cohorts = []
    for month, active_by_k in per_month.items():
        span = _months_between(month, last) + 1
        cohorts.append((month.strftime("%Y-%m"), active_by_k.get(0, 0),
                        [active_by_k.get(k, 0) for k in range(span)]))
    counts = Counts(
        start_active=start_active, end_active=end_active, new=period["new"], new_referred=period["new_referred"],
        buyers=period["buyers"], repeat_buyers=period["repeat_buyers"], orders=period["orders"],
        revenue=period["revenue"], reorder_base=period["reorder_base"], reordered=period["reordered"],
        median_days_to_second=None if median is None else Decimal(str(round(median, 4))),
        cohorts=cohorts,
    )
    return counts, currency


# ---- GDPR ----------------------------------------------------------------------------------


async def erase_customer(pool: asyncpg.Pool, shop: str, customer_id: str) -> bool:
    """Forget the person: the profile keeps its id and order summary, orders keep ids and
    amounts; contact data, device and payment traces, pending jobs and the published events that
    carried them go. False when already erased (no second event)."""
    async with pool.acquire() as conn, conn.transaction():
        # The profile first, then its orders: the order in which a status change takes its locks.
        row = await conn.fetchrow(
            "SELECT erased_at FROM customers WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, customer_id
        )
        if row is None:
            raise NotFound(f"unknown customer {customer_id}", field="id")
        await conn.execute("SELECT 1 FROM orders WHERE shop_id = $1 AND customer_id = $2 FOR UPDATE",
                           shop, customer_id)
        if row["erased_at"] is not None:
            return False
        await conn.execute(
            """UPDATE customers SET email = NULL, first_name = NULL, last_name = NULL, timezone = NULL,
                   birthday = NULL, phone = NULL, accepts_email = false, accepts_sms = false,
                   accepts_whatsapp = false, referral_code = NULL, device_id = NULL,
                   erased_at = now(), updated_at = now()
               WHERE shop_id = $1 AND id = $2""",
            shop, customer_id,
        )
        await conn.execute(
            """UPDATE orders SET referral_code = NULL, discount_codes = '{}', shipping_address_hash = NULL,
                   payment_fingerprint = NULL, device_id = NULL, updated_at = now()
               WHERE shop_id = $1 AND customer_id = $2""",
            shop, customer_id,
        )
        await conn.execute(
            "UPDATE engagements SET idempotency_key = NULL WHERE shop_id = $1 AND customer_id = $2",
            shop, customer_id,
        )
        await schedule.cancel(conn, shop=shop, kind=BIRTHDAY_JOB, dedup_key_prefix=_birthday_prefix(customer_id))
        # Published events are history only the relay keeps; those about this person carried their profile.
        await conn.execute(
            """DELETE FROM outbox WHERE shop_id = $1 AND published_at IS NOT NULL
                 AND envelope->'data'->>'customer_id' = $2""",
            shop, customer_id,
        )
        await outbox.add(conn, events.CustomerErased(shop=shop, customer_id=customer_id), source=SOURCE)
        return True


async def export_customer(pool: asyncpg.Pool, shop: str, customer_id: str) -> dict[str, Any]:
    """Everything this service holds about the person, as JSON-ready values."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        profile = await get_customer(conn, shop, customer_id)
        if profile is None:
            raise NotFound(f"unknown customer {customer_id}", field="id")
        orders = await conn.fetch(
            "SELECT * FROM orders WHERE shop_id = $1 AND customer_id = $2 ORDER BY placed_at, id", shop, customer_id
        )
        lines = await conn.fetch(
            """SELECT l.order_id, l.product_id, l.quantity, l.unit_price FROM order_lines l
               JOIN orders o ON o.shop_id = l.shop_id AND o.id = l.order_id
               WHERE l.shop_id = $1 AND o.customer_id = $2 ORDER BY l.order_id, l.line_no""",
            shop, customer_id,
        )
        engagement = await conn.fetch(
            """SELECT kind, at, notification_id FROM engagements
               WHERE shop_id = $1 AND customer_id = $2 ORDER BY at, id""",
            shop, customer_id,
        )
        rfm = next(iter(await rfm_scores(conn, shop, [customer_id])), None)

    def plain(record: asyncpg.Record, drop: tuple[str, ...] = ("shop_id",)) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in record.items():
            if key in drop:
                continue
            out[key] = value.isoformat() if isinstance(value, datetime | date) else \
                str(value) if isinstance(value, Decimal) else value
        return out

    by_order: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_order.setdefault(line["order_id"], []).append(plain(line, ("order_id",)))
    return {
        "profile": plain(profile, ("shop_id", *_OLD_RFM_COLUMNS)),
        "rfm": plain(rfm, ("customer_id",)) if rfm is not None else None,
        "orders": [{**plain(o), "lines": by_order.get(o["id"], [])} for o in orders],
        "engagement": [plain(e) for e in engagement],
    }


# ---- webhook intake ------------------------------------------------------------------------


async def ensure_customer(conn: Connection, shop: str, p: Profile) -> None:
    """Create the customer an order names when we do not know them yet; an order's copy of the
    profile is partial, so it never overwrites one we have."""
    if await get_customer(conn, shop, p.id) is None:
        await save_profile(conn, shop, p)


async def apply_refund(conn: Connection, shop: str, refund: Refund) -> bool:
    """Add one refund (by its id, once) to the order's cumulative refunded amount."""
    inserted = await conn.fetchval(
        """INSERT INTO order_refunds (shop_id, refund_id, order_id, amount) VALUES ($1, $2, $3, $4)
           ON CONFLICT (shop_id, refund_id) DO NOTHING RETURNING true""",
        shop, refund.id, refund.order_id, refund.amount,
    )
    if not inserted:
        return False
    if refund.amount > 0:
        row = await _lock_order(conn, shop, refund.order_id)
        await change_order_status(conn, shop, refund.order_id, "REFUNDED", row["refunded_total"] + refund.amount)
    return True
