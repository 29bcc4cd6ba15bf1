"""SQL of challenges, badges and streaks (beside store.py, which holds the ledger's).

Lock order as in store.py: the customer's account row first, then their challenge_progress rows.
Counting an event therefore serialises per customer, so concurrent events for one customer are
each counted and the completion is granted exactly once. Ending a challenge locks the challenge row,
then the winners' accounts (through the ledger); event counting never locks a challenge row.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

import asyncpg

from services.points import badges, challenges, ledger, streaks
from services.points.ledger import Entry
from services.points.store import (
    SOURCE,
    credit_available,
    current_tier,
    lock_account,
    now,
    program,
    reverse,
)
from shared import events, outbox, schedule
from shared.db import Connection, Executor
from shared.errors import Conflict, Forbidden, NotFound

END_JOB = "points.challenge_end"
LIST_LIMIT = 200


async def launch(conn: Connection, shop: str, launch: challenges.Launch) -> asyncpg.Record:
    """Store the challenge, announce it and plan its end, in one transaction. The same idempotency key
    answers the first launch; with another input it is a CONFLICT."""
    if launch.idempotency_key is not None:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('points.challenge:' || $1 || '|' || $2))",
                           shop, launch.idempotency_key)
        seen = await conn.fetchrow("SELECT * FROM challenges WHERE shop_id = $1 AND idempotency_key = $2",
                                   shop, launch.idempotency_key)
        if seen is not None:
            if seen["input_hash"] != launch.fingerprint():
                raise Conflict("this idempotency key was already used for another challenge")
            return seen
    g = launch.goal
    row = await conn.fetchrow(
        """INSERT INTO challenges (shop_id, id, title, description, hashtag, goal_event, goal_count, goal_with_media,
               goal_hashtag, starts_at, ends_at, audience, reward_points, badge, leaderboard_bonus, leaderboard_top,
               idempotency_key, input_hash, goal_measure, audience_tier)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
           RETURNING *""",
        shop, f"ch-{secrets.token_hex(8)}", launch.title, launch.description, launch.hashtag, g.event, g.count,
        g.with_media, g.hashtag, launch.starts_at, launch.ends_at, launch.audience, launch.reward_points,
        launch.badge, launch.leaderboard_bonus, launch.leaderboard_top, launch.idempotency_key, launch.fingerprint(),
        g.measure, launch.audience_tier)
    await outbox.add(conn, events.ChallengeLaunched(
        shop=shop, challenge_id=row["id"], title=row["title"], starts_at=row["starts_at"], ends_at=row["ends_at"],
        audience=row["audience"], reward_points=row["reward_points"], audience_tier=row["audience_tier"]),
        source=SOURCE)
    await schedule.schedule(conn, shop=shop, kind=END_JOB, dedup_key=row["id"], due_at=row["ends_at"],
                            payload={"challenge_id": row["id"]})
    return row


async def challenge(conn: Executor, shop: str, challenge_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM challenges WHERE shop_id = $1 AND id = $2", shop, challenge_id)


async def all_challenges(conn: Executor, shop: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM challenges WHERE shop_id = $1 ORDER BY starts_at DESC, id LIMIT $2", shop, LIST_LIMIT)


async def end(conn: Connection, shop: str, challenge_id: str) -> asyncpg.Record:
    """End a challenge early (an ended one stays as it is) and grant its leaderboard bonus."""
    row = await conn.fetchrow("SELECT * FROM challenges WHERE shop_id = $1 AND id = $2 FOR UPDATE",
                              shop, challenge_id)
    if row is None:
        raise NotFound("no such challenge", field="id")
    at = now()
    if challenges.status(row["starts_at"], row["ends_at"], row["ended_at"], at) != challenges.ENDED:
        row = await conn.fetchrow(
            "UPDATE challenges SET ended_at = $3 WHERE shop_id = $1 AND id = $2 RETURNING *", shop, challenge_id, at)
    await finish(conn, shop, challenge_id)
    return await challenge(conn, shop, challenge_id)


async def finish(conn: Connection, shop: str, challenge_id: str) -> None:
    """The end of a challenge (the job at endsAt, or endChallenge): the top-N bonus, granted once."""
    row = await conn.fetchrow("SELECT * FROM challenges WHERE shop_id = $1 AND id = $2 FOR UPDATE",
                              shop, challenge_id)
    if row is None or row["bonus_granted_at"] is not None:
        return
    if challenges.status(row["starts_at"], row["ends_at"], row["ended_at"], now()) != challenges.ENDED:
        raise RuntimeError("the challenge has not ended yet")  # a job run early (clock skew): retried later
    if row["leaderboard_bonus"] > 0:
        prog = await program(conn, shop)
        for place, s in enumerate(challenges.bonus_winners(await standings(conn, shop, challenge_id),
                                                           row["leaderboard_top"]), start=1):
            await credit_available(conn, shop, Entry(
                customer_id=s.customer_id, kind="earn", delta=row["leaderboard_bonus"],
                reason=f"challenge {row['title']}: place {place}",
                idempotency_key=f"challenge:{challenge_id}:bonus:{s.customer_id}", actor="system",
                rule_version=prog.version))
    await conn.execute("UPDATE challenges SET bonus_granted_at = now() WHERE shop_id = $1 AND id = $2",
                       shop, challenge_id)


async def join(conn: Connection, shop: str, challenge_id: str, customer_id: str) -> asyncpg.Record:
    row = await challenge(conn, shop, challenge_id)
    if row is None:
        raise NotFound("no such challenge", field="id")
    if challenges.status(row["starts_at"], row["ends_at"], row["ended_at"], now()) == challenges.ENDED:
        raise Conflict("this challenge has ended")
    if row["audience"] is not None:
        segment = await conn.fetchval(
            "SELECT segment FROM customer_segments WHERE shop_id = $1 AND customer_id = $2", shop, customer_id)
        if (segment or challenges.FIRST_SEGMENT) != row["audience"]:  # no change seen yet: still the first
            raise Forbidden(f"this challenge is for the {row['audience']} segment")
    tier = row["audience_tier"]
    if tier is not None and (await current_tier(conn, shop, customer_id)).name != tier:
        raise Forbidden(f"this challenge is for the {row['audience_tier']} tier")
    await conn.execute(
        """INSERT INTO challenge_progress (shop_id, challenge_id, customer_id) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""", shop, challenge_id, customer_id)
    return await progress(conn, shop, challenge_id, customer_id)


async def progress(conn: Executor, shop: str, challenge_id: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM challenge_progress WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3",
        shop, challenge_id, customer_id)


async def progress_of(conn: Executor, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT p.* FROM challenge_progress p JOIN challenges c ON c.shop_id = p.shop_id AND c.id = p.challenge_id
           WHERE p.shop_id = $1 AND p.customer_id = $2 ORDER BY c.starts_at DESC, c.id LIMIT $3""",
        shop, customer_id, LIST_LIMIT)


def _standing(r: asyncpg.Record) -> challenges.Standing:
    return challenges.Standing(r["customer_id"], r["progress"], r["completed_at"], r["last_progress_at"],
                               r["joined_at"])


async def standings(conn: Executor, shop: str, challenge_id: str) -> list[challenges.Standing]:
    rows = await conn.fetch(
        """SELECT customer_id, progress, completed_at, last_progress_at, joined_at FROM challenge_progress
           WHERE shop_id = $1 AND challenge_id = $2""", shop, challenge_id)
    return [_standing(r) for r in rows]


async def leaderboard(conn: Executor, shop: str, challenge_id: str, first: int) -> list[challenges.Standing]:
    """Top `first` in the module's tie order; SQL pre-sorts with the same keys so only the top is read."""
    rows = await conn.fetch(
        """SELECT customer_id, progress, completed_at, last_progress_at, joined_at FROM challenge_progress
           WHERE shop_id = $1 AND challenge_id = $2 AND progress > 0
           ORDER BY progress DESC, completed_at ASC NULLS LAST, last_progress_at ASC NULLS LAST, joined_at,
                    customer_id
           LIMIT $3""", shop, challenge_id, first)
    return challenges.rank([_standing(r) for r in rows])


async def count(conn: Connection, shop: str, h: challenges.Happening, event_id: str) -> None:
    """Count one event for each challenge the customer joined whose goal it moves, once per challenge
    (challenge_counts' key), inside the window, before an early end and not before the join."""
    candidates = await conn.fetch(
        """SELECT c.* FROM challenges c
           JOIN challenge_progress p ON p.shop_id = c.shop_id AND p.challenge_id = c.id
           WHERE c.shop_id = $1 AND p.customer_id = $2 AND c.goal_event = $3
             AND c.starts_at <= $4 AND $4 < c.ends_at AND (c.ended_at IS NULL OR $4 < c.ended_at)
             AND p.joined_at <= $4""",
        shop, h.customer_id, h.event, h.at)
    matching = [(c, goal_of(c)) for c in candidates]
    matching = [(c, g) for c, g in matching if challenges.counts(g, c["id"], h)]
    if not matching:
        return
    await lock_account(conn, shop, h.customer_id)  # the service's lock order: the account first
    for c, goal in sorted(matching, key=lambda m: m[0]["id"]):
        step = challenges.step(goal, h)
        fresh = await conn.fetchval(
            """INSERT INTO challenge_counts (shop_id, challenge_id, source_key, customer_id, event_id, occurred_at,
                   counted, amount)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING true""",
            shop, c["id"], h.source_key, h.customer_id, event_id, h.at, step,
            h.amount if h.event == "ORDER_PAID" else None)
        if not fresh:
            continue  # this event (or a replay of it under another id) already counted here
        before = await conn.fetchrow(
            """SELECT * FROM challenge_progress WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3
               FOR UPDATE""", shop, c["id"], h.customer_id)
        after = await conn.fetchrow(
            """UPDATE challenge_progress SET progress = progress + $5,
                   last_progress_at = greatest(coalesce(last_progress_at, $4), $4)
               WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3 RETURNING *""",
            shop, c["id"], h.customer_id, h.at, step)
        if before["completed_at"] is None and challenges.completes(before["progress"], after["progress"],
                                                                    c["goal_count"]):
            await complete(conn, shop, c, h.customer_id, h.at, revoked=before["revoked"])


async def withdraw_order(conn: Connection, shop: str, customer_id: str, order_id: str,
                         net_remaining: Decimal, voided: bool, event_id: str) -> None:
    """A counted order was refunded (partly or fully) or cancelled: each challenge it counted for loses
    what the order no longer brings (challenges.still_counted). A completion that the progress no
    longer reaches is taken back (`revoke`). The refund events carry the order's state (the net amount
    left, fully refunded or not), not a difference, so a replay or a late, older refund takes nothing
    more. A refund before its payment: see points' consumers (the payment then counts nothing).

    Leaderboard bonuses already granted at a challenge's end stay: the ranking was final then."""
    rows = await conn.fetch(
        """SELECT challenge_id, counted FROM challenge_counts
           WHERE shop_id = $1 AND source_key = $2 AND customer_id = $3 AND counted > 0 ORDER BY challenge_id""",
        shop, f"order:{order_id}", customer_id)
    if not rows:
        return
    await lock_account(conn, shop, customer_id)  # the service's lock order: the account first
    for r in rows:
        c = await challenge(conn, shop, r["challenge_id"])
        keep = challenges.still_counted(goal_of(c), r["counted"], net_remaining, voided)
        if keep >= r["counted"]:
            continue
        await conn.execute(
            """UPDATE challenge_counts SET counted = $4, amount = least(amount, $5)
               WHERE shop_id = $1 AND challenge_id = $2 AND source_key = $3""",
            shop, c["id"], f"order:{order_id}", keep, net_remaining)
        after = await conn.fetchrow(
            """UPDATE challenge_progress SET progress = greatest(progress - $4, 0)
               WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3 RETURNING *""",
            shop, c["id"], customer_id, r["counted"] - keep)
        if challenges.falls_short(after["completed_at"] is not None, after["progress"], c["goal_count"]):
            await revoke(conn, shop, c, customer_id, after["revoked"], event_id)


async def revoke(conn: Connection, shop: str, c: asyncpg.Record, customer_id: str, revoked: int,
                 event_id: str) -> None:
    """Take a completion back, as DOMAIN.md has refunds take back the points they earned: the reward
    points through a ledger `reverse` row (spent points become a shortfall), the challenge's badge
    (only when this challenge awarded it), and the completion mark, so the customer can complete again
    with new events and be rewarded again under the next completion key."""
    await conn.execute(
        """UPDATE challenge_progress SET completed_at = NULL, revoked = revoked + 1
           WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3""", shop, c["id"], customer_id)
    granted = await conn.fetchrow(
        "SELECT delta, rule_version FROM ledger_entries WHERE shop_id = $1 AND idempotency_key = $2",
        shop, challenges.completion_key(c["id"], customer_id, revoked))
    if granted is not None and granted["delta"] > 0:
        await reverse(conn, shop, customer_id, granted["delta"], bucket=ledger.AVAILABLE,
                      reason=f"challenge {c['title']}: refunded", event_id=event_id,
                      key=f"{challenges.completion_key(c['id'], customer_id, revoked)}:revoked",
                      rule_version=granted["rule_version"])
    if c["badge"]:
        await conn.execute(
            "DELETE FROM badges WHERE shop_id = $1 AND customer_id = $2 AND badge = $3 AND source = $4",
            shop, customer_id, c["badge"], badges.challenge_source(c["id"]))


def goal_of(c: asyncpg.Record) -> challenges.Goal:
    return challenges.Goal(c["goal_event"], c["goal_count"], c["goal_with_media"], c["goal_hashtag"],
                           c["goal_measure"])


async def complete(conn: Connection, shop: str, c: asyncpg.Record, customer_id: str,
                   at: datetime, *, revoked: int) -> None:
    """The reward once per completion: the ledger key is per challenge, customer and completion (see
    `revoke`), the badge once per name."""
    await conn.execute(
        """UPDATE challenge_progress SET completed_at = $4
           WHERE shop_id = $1 AND challenge_id = $2 AND customer_id = $3 AND completed_at IS NULL""",
        shop, c["id"], customer_id, at)
    if c["reward_points"] > 0:
        prog = await program(conn, shop)
        await credit_available(conn, shop, Entry(
            customer_id=customer_id, kind="earn", delta=c["reward_points"], reason=f"challenge {c['title']}",
            idempotency_key=challenges.completion_key(c["id"], customer_id, revoked), actor="system",
            rule_version=prog.version))
    if c["badge"]:
        await award_badge(conn, shop, customer_id, c["badge"], badges.challenge_source(c["id"]))
    await outbox.add(conn, events.ChallengeCompleted(
        shop=shop, challenge_id=c["id"], customer_id=customer_id, title=c["title"],
        reward_points=c["reward_points"], badge=c["badge"]), source=SOURCE)


async def award_badge(conn: Connection, shop: str, customer_id: str, badge: str, source: str) -> bool:
    return bool(await conn.fetchval(
        """INSERT INTO badges (shop_id, customer_id, badge, source) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""", shop, customer_id, badge, source))


async def badges_of(conn: Executor, shop: str, customer_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM badges WHERE shop_id = $1 AND customer_id = $2 ORDER BY awarded_at, badge LIMIT $3",
        shop, customer_id, LIST_LIMIT)


async def challenge_badges(conn: Executor, shop: str) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        """SELECT badge, title FROM challenges WHERE shop_id = $1 AND badge IS NOT NULL
           ORDER BY created_at, id LIMIT $2""", shop, LIST_LIMIT)
    return [(r["badge"], r["title"]) for r in rows]


async def save_segment(conn: Connection, shop: str, customer_id: str, segment: str) -> None:
    await conn.execute(
        """INSERT INTO customer_segments (shop_id, customer_id, segment) VALUES ($1, $2, $3)
           ON CONFLICT (shop_id, customer_id) DO UPDATE SET segment = EXCLUDED.segment, updated_at = now()""",
        shop, customer_id, segment)


async def activity_weeks(conn: Executor, shop: str, customer_id: str) -> list:
    rows = await conn.fetch(
        "SELECT week FROM activity_weeks WHERE shop_id = $1 AND customer_id = $2 ORDER BY week", shop, customer_id)
    return [r["week"] for r in rows]


async def record_activity(conn: Connection, shop: str, customer_id: str, at: datetime) -> None:
    """A purchase or a review in `at`'s ISO week; a streak reaching a badge's length awards it.

    A week stays active when its purchase is later refunded or cancelled: a streak is the habit of
    coming back (the customer did shop that week), its badges carry no points to take back, and
    removing a week afterwards would rewrite a `longest` streak and a badge already shown."""
    fresh = await conn.fetchval(
        """INSERT INTO activity_weeks (shop_id, customer_id, week) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""", shop, customer_id, streaks.week_of(at))
    if not fresh:
        return
    st = streaks.streak(await activity_weeks(conn, shop, customer_id), now().date())
    for weeks, name in sorted(streaks.STREAK_BADGES.items()):
        if st.longest >= weeks:
            await award_badge(conn, shop, customer_id, name, badges.streak_source(weeks))
