"""Running a challenge: an admin launches it (announced, its end planned), customers join it, and
it ends (at endsAt, by the job, or early by an admin) with its leaderboard bonus, granted once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.points import SOURCE
from services.points.challenges import goals, leaderboard, store
from services.points.loyalty import accounts, configuration, posting
from services.points.loyalty.ledger import Entry
from shared import events, outbox, schedule
from shared.db import Connection, Executor, transaction
from shared.errors import Conflict, Forbidden, NotFound

END_JOB = "points.challenge_end"  # at endsAt: the leaderboard bonus


async def launch(pool: asyncpg.Pool, shop: str, **fields: Any) -> asyncpg.Record:
    """Store the challenge (goals.launch's fields, checked against the tiers in force), announce it
    and plan its end, in one transaction. The same idempotency key answers the first launch; with
    another input it is a CONFLICT."""
    async with transaction(pool) as conn:
        prog = await configuration.in_force(conn, shop)  # the tiers in force (defaults until configured)
        terms = goals.launch(**fields, tier_names=tuple(t.name for t in prog.tiers))
        if terms.idempotency_key is not None:
            await store.lock_launch_key(conn, shop, terms.idempotency_key)
            seen = await store.challenge_by_key(conn, shop, terms.idempotency_key)
            if seen is not None:
                if seen["input_hash"] != terms.fingerprint():
                    raise Conflict("this idempotency key was already used for another challenge")
                return seen
        g = terms.goal
        row = await store.insert_challenge(
            conn, shop, id=goals.new_id(), title=terms.title, description=terms.description, hashtag=terms.hashtag,
            goal_event=g.event, goal_count=g.count, goal_with_media=g.with_media, goal_hashtag=g.hashtag,
            goal_measure=g.measure, starts_at=terms.starts_at, ends_at=terms.ends_at, audience=terms.audience,
            audience_tier=terms.audience_tier, reward_points=terms.reward_points, badge=terms.badge,
            leaderboard_bonus=terms.leaderboard_bonus, leaderboard_top=terms.leaderboard_top,
            idempotency_key=terms.idempotency_key, input_hash=terms.fingerprint())
        await outbox.add(conn, events.ChallengeLaunched(
            shop=shop, challenge_id=row["id"], title=row["title"], starts_at=row["starts_at"], ends_at=row["ends_at"],
            audience=row["audience"], reward_points=row["reward_points"], audience_tier=row["audience_tier"]),
            source=SOURCE)
        await schedule.schedule(conn, shop=shop, kind=END_JOB, dedup_key=row["id"], due_at=row["ends_at"],
                                payload={"challenge_id": row["id"]})
        return row


@dataclass(frozen=True)
class Joined:
    progress: asyncpg.Record
    challenge: asyncpg.Record


async def join(pool: asyncpg.Pool, shop: str, challenge_id: str, customer_id: str) -> Joined:
    """Take part (customer), when in the challenge's audience; joining twice is harmless."""
    async with transaction(pool) as conn:
        row = await store.challenge(conn, shop, challenge_id)
        if row is None:
            raise NotFound("no such challenge", field="id")
        if goals.status(row["starts_at"], row["ends_at"], row["ended_at"], datetime.now(UTC)) == goals.ENDED:
            raise Conflict("this challenge has ended")
        if row["audience"] is not None:
            segment = await store.segment_of(conn, shop, customer_id)
            if (segment or goals.FIRST_SEGMENT) != row["audience"]:  # no change seen yet: still the first
                raise Forbidden(f"this challenge is for the {row['audience']} segment")
        tier = row["audience_tier"]
        if tier is not None and (await accounts.current_tier(conn, shop, customer_id)).name != tier:
            raise Forbidden(f"this challenge is for the {row['audience_tier']} tier")
        await store.add_participant(conn, shop, challenge_id, customer_id)
        return Joined(await store.progress(conn, shop, challenge_id, customer_id), row)


async def end(pool: asyncpg.Pool, shop: str, challenge_id: str) -> asyncpg.Record:
    """End a challenge early (an ended one stays as it is) and grant its leaderboard bonus."""
    async with transaction(pool) as conn:
        row = await store.lock_challenge(conn, shop, challenge_id)
        if row is None:
            raise NotFound("no such challenge", field="id")
        at = datetime.now(UTC)
        if goals.status(row["starts_at"], row["ends_at"], row["ended_at"], at) != goals.ENDED:
            await store.set_ended(conn, shop, challenge_id, at)
        await finish(conn, shop, challenge_id)
        ended = await store.challenge(conn, shop, challenge_id)
        if ended is None:
            raise NotFound("no such challenge", field="id")
        return ended


async def finish(conn: Connection, shop: str, challenge_id: str) -> None:
    """The end of a challenge (the job at endsAt, or `end`): the top-N bonus, granted once."""
    row = await store.lock_challenge(conn, shop, challenge_id)
    if row is None or row["bonus_granted_at"] is not None:
        return
    if goals.status(row["starts_at"], row["ends_at"], row["ended_at"], datetime.now(UTC)) != goals.ENDED:
        raise RuntimeError("the challenge has not ended yet")  # a job run early (clock skew): retried later
    if row["leaderboard_bonus"] > 0:
        prog = await configuration.seeded(conn, shop)
        standings = [_standing(r) for r in await store.standings(conn, shop, challenge_id)]
        for place, s in enumerate(leaderboard.bonus_winners(standings, row["leaderboard_top"]), start=1):
            await posting.credit_available(conn, shop, Entry(
                customer_id=s.customer_id, kind="earn", delta=row["leaderboard_bonus"],
                reason=f"challenge {row['title']}: place {place}",
                idempotency_key=f"challenge:{challenge_id}:bonus:{s.customer_id}", actor="system",
                rule_version=prog.version))
    await store.mark_bonus_granted(conn, shop, challenge_id)


def _standing(r: asyncpg.Record) -> leaderboard.Standing:
    return leaderboard.Standing(r["customer_id"], r["progress"], r["completed_at"], r["last_progress_at"],
                                r["joined_at"])


async def leaders(conn: Executor, shop: str, challenge_id: str, first: int) -> list[leaderboard.Standing]:
    """The leaderboard's top `first`, in its tie order."""
    return leaderboard.rank([_standing(r) for r in await store.leaders(conn, shop, challenge_id, first)])
