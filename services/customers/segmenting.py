"""Segments kept current: one customer's refresh after each change to their orders or
engagement, the shop's daily pass (segments move with time alone: NEW ages, AT_RISK after quiet
days; then RFM and the counters folded), refreshSegments, and the shop's thresholds.
customer.segment_changed goes out through the outbox with each move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.customers import SOURCE, predicting, store
from services.customers.segments import SEGMENTS, Facts, SegmentRules, crossed, engagement_score, segment
from shared import events, outbox, schedule
from shared.db import Connection, Executor, at_end, forget, remembered, transaction
from shared.schedule import Job

DAILY_JOB = "customers.daily"
DAILY_AT_HOUR = 3  # UTC
DAILY_BATCH = 2000  # customers per batch of the daily segment pass


def _rules_key(shop: str) -> str:
    return f"customers.segment_rules:{shop}"


async def rules(conn: Executor, shop: str) -> SegmentRules:
    """The shop's thresholds, read once per transaction."""
    return (await versioned_rules(conn, shop))[1]


async def versioned_rules(conn: Executor, shop: str) -> tuple[int, SegmentRules]:
    """The shop's thresholds and their version (0: the defaults, never changed)."""
    async def load() -> tuple[int, SegmentRules]:
        row = await store.segments.rules(conn, shop)
        return (0, SegmentRules()) if row is None else (row["version"], SegmentRules.from_json(row["rules"]))
    return await remembered(_rules_key(shop), load)


async def configure(pool: asyncpg.Pool, shop: str, changes: dict[str, Any]) -> tuple[int, SegmentRules]:
    """Change some thresholds: a new version (the old ones are kept); segments follow on each
    customer's next event or the next daily pass (or refreshSegments)."""
    async with transaction(pool) as conn:
        await store.segments.lock_rules(conn, shop)
        forget(_rules_key(shop))
        version, current = await versioned_rules(conn, shop)
        changed = current.changed(**changes)
        await store.segments.save_rules(conn, shop, version + 1, changed.to_json())
        forget(_rules_key(shop))
        return version + 1, changed


async def sizes(conn: Executor, shop: str) -> dict[str, int]:
    """Live customers in each segment (erased ones left out), every segment named."""
    counts = dict.fromkeys(SEGMENTS, 0)
    counts.update(await store.segments.sizes(conn, shop))
    return counts


def _since(rules: SegmentRules, now: datetime) -> store.segments.Since:
    return store.segments.Since(
        now=now, orders=now - timedelta(days=rules.regular_days), vip_emails=now - timedelta(days=rules.vip_email_days),
        offers=now - timedelta(days=rules.email_days), visits=now - timedelta(days=rules.visit_days),
        vip_orders=now - timedelta(days=rules.vip_days),
    )


def _facts(row: asyncpg.Record) -> Facts:
    return Facts(
        orders_count=row["orders_count"], total_spent=row["total_spent"], first_order_at=row["first_order_at"],
        last_order_at=row["last_order_at"], orders_recent=row["orders_recent"],
        orders_vip=row["orders_vip"], spent_vip=row["spent_vip"],
        emails_sent_vip=row["sent_vip"], emails_opened_vip=row["opened_vip"],
        offers_ignored=row["offers_ignored"],
        visited_recent=row["visited_recent"], probability_active=row["probability_active"],
    )


async def _move(conn: Connection, shop: str, rows: list[asyncpg.Record], rules: SegmentRules,
                now: datetime) -> int:
    """Store the segment and score of each customer whose values moved (one statement for the
    lot), announce each segment change, and start win-back (customer.disengaged) for each customer
    whose engagement score crossed the threshold. Returns how many customers moved."""
    moved: list[tuple[str, str, int]] = []
    disengaged: list[events.EventData] = []
    for row in rows:
        facts = _facts(row)
        new_segment, score = segment(facts, rules, now), engagement_score(facts, rules, now)
        if (new_segment, score) != (row["segment"], row["engagement_score"]):
            moved.append((row["id"], new_segment, score))
        if facts.last_order_at is not None and crossed(row["engagement_score"], score, facts, rules):
            disengaged.append(events.CustomerDisengaged(
                shop=shop, customer_id=row["id"], score=score, threshold=rules.engagement_threshold,
                last_order_at=facts.last_order_at))
    if disengaged:
        await outbox.add_many(conn, disengaged, source=SOURCE)
    if not moved:
        return 0
    await store.segments.save_segments(conn, shop, now, moved)
    before = {row["id"]: row["segment"] for row in rows}
    await outbox.add_many(conn, [
        events.CustomerSegmentChanged(shop=shop, customer_id=customer_id, from_segment=before[customer_id],
                                      to_segment=new_segment)
        for customer_id, new_segment, _ in moved if new_segment != before[customer_id]
    ], source=SOURCE)
    return len(moved)


async def refresh_customer(conn: Connection, shop: str, customer_id: str, now: datetime | None = None) -> None:
    """Recompute one customer's order summary, engagement score and segment (inside the caller's
    transaction); publishes customer.segment_changed when the segment moves."""
    now = now or datetime.now(UTC)
    await store.orders.summarise(conn, shop, customer_id)
    shop_rules = await rules(conn, shop)
    row = await store.segments.facts(conn, shop, customer_id, _since(shop_rules, now))
    if row is not None:
        await _move(conn, shop, [row], shop_rules, now)


async def refresh_customer_at_end(conn: Connection, shop: str, customer_id: str) -> None:
    """refresh_customer once, when the transaction's steps are done (shared.db.at_end): a batch of
    events (or a webhook's several transitions) about one customer summarises their orders and moves
    their segment once, from the state it ends with, which is what one refresh after each step would
    have left."""
    await at_end(f"customers.refresh:{shop}\x1f{customer_id}", lambda: refresh_customer(conn, shop, customer_id))


async def resummarise(pool: asyncpg.Pool, shop: str, customer_id: str) -> None:
    """refresh_customer in a transaction of its own (catch_up.py)."""
    async with transaction(pool) as conn:
        await refresh_customer(conn, shop, customer_id)


async def refresh_batch(conn: Connection, shop: str, now: datetime, after: str,
                        size: int = DAILY_BATCH) -> tuple[str | None, int]:
    """One batch of the daily segment pass, in the caller's transaction. Takes the `size`
    customers after `after` by id; returns the last id when more may follow (else None) and how
    many customers changed.

    The batch's customers are locked before their facts are read, as an order transition locks its
    customer before it moves the segment: facts read first could be overtaken by a transition
    committing meanwhile, and the batch would then write (and announce) a segment from before it."""
    shop_rules = await rules(conn, shop)
    ids = await store.segments.lock_batch(conn, shop, after, size)
    if not ids:
        return None, 0
    locked = set(ids)  # a customer added inside the range since is not locked: the next pass has them
    rows = [r for r in await store.segments.facts_between(conn, shop, after, ids[-1], _since(shop_rules, now))
            if r["id"] in locked]
    changed = await _move(conn, shop, rows, shop_rules, now)
    return (ids[-1] if len(ids) == size else None), changed


async def finish_daily_pass(conn: Connection, shop: str, now: datetime) -> None:
    """After the last segment batch: RFM quintiles over the active base, and the counter logs folded."""
    window = timedelta(days=(await rules(conn, shop)).active_window_days)
    await store.segments.refresh_rfm(conn, shop, now, now - window)
    await store.segments.fold_counters(conn, shop)


async def refresh_shop(pool: asyncpg.Pool, shop: str, now: datetime | None = None) -> int:
    """The whole daily pass now (refreshSegments): the batches of the scheduled pass
    (daily_pass), each committing on its own as there, so a large shop's run never holds the
    customers it moved until the end. Returns how many customers changed segment or engagement
    score."""
    now = now or datetime.now(UTC)
    changed, last = 0, ""
    while True:
        async with transaction(pool) as conn:
            more, moved = await refresh_batch(conn, shop, now, last)
        changed += moved
        if more is None:
            break
        last = more
    async with transaction(pool) as conn:
        await finish_daily_pass(conn, shop, now)
    return changed


async def schedule_daily(conn: Connection, shop: str, after: datetime) -> None:
    """The shop's next daily pass (once per shop and day, whoever schedules it first)."""
    await schedule.schedule_daily(conn, shop=shop, kind=DAILY_JOB, hour=DAILY_AT_HOUR, after=after)


async def daily_pass(conn: Connection, job: Job) -> None:
    """The job: one batch of the shop's daily pass. When more customers follow, the next batch is a
    job of its own, due at once, so each batch commits on its own: a large shop's pass (1M customers,
    two minutes) never holds the customers it moved locked until the end, where their orders would
    wait. The batches share the pass's `now`; the last one scores RFM and schedules the next day."""
    now = datetime.fromisoformat(job.payload["now"]) if "now" in job.payload else datetime.now(UTC)
    size = int(job.payload.get("batch", DAILY_BATCH))
    last, _ = await refresh_batch(conn, job.shop, now, job.payload.get("after", ""), size)
    if last is not None:
        await schedule.schedule(
            conn, shop=job.shop, kind=DAILY_JOB, dedup_key=f"{job.dedup_key.split('>')[0]}>{last}",
            due_at=datetime.now(UTC),
            payload={"now": now.isoformat(), "after": last, "batch": size},
        )
        return
    await finish_daily_pass(conn, job.shop, now)
    await schedule_daily(conn, job.shop, now)
    await predicting.schedule_nightly(conn, job.shop, now)  # the shop's models, fitted before the next pass
