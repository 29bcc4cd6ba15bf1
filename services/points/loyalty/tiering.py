"""Keeping a customer's tier current: upgrade at once, at the end of the period renew the tier (still
qualifying) or downgrade,
announce every move of the tier that applies (tier.changed), nudge when the next tier is near, and
an admin's override until a date."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from services.points import SOURCE
from services.points.loyalty import accounts, configuration, posting, store, tiers
from services.points.loyalty.program import Program, Tier
from shared import events, outbox, schedule
from shared.db import Connection, transaction

REVIEW_JOB = "points.tier_review"  # at the end of a period or an override: the tier is looked at again


async def refresh(conn: Connection, shop: str, customer_id: str, prog: Program) -> None:
    """Upgrade at once (or downgrade once the period has ended), announce the tier that applies when it
    moved, and nudge when the next tier is near."""
    at = datetime.now(UTC)
    acct = await posting.lock(conn, shop, customer_id)
    st, spend = await accounts.standing(conn, shop, acct, customer_id, prog, at)
    if st.changed:
        acct = await store.tiers.set_tier(conn, shop, customer_id, st.tier.name, st.since)
        review = tiers.review_at(st, prog.tiers, prog.tier_period)
        if review is not None and st.since is not None:
            # At the end of the period the tier is reviewed even if the customer never buys again.
            await schedule.schedule(conn, shop=shop, kind=REVIEW_JOB,
                                    dedup_key=f"{customer_id}|{st.since.isoformat()}",
                                    due_at=review, payload={"customer_id": customer_id})
    await _announce(conn, shop, acct, accounts.applied(acct, st, prog, at), prog, at)
    near = tiers.is_near(st.tier, spend, prog.tiers, prog.near_tier_share)
    if near is not None and await store.tiers.add_nudge(conn, shop, customer_id, near.name,
                                                        tiers.period_key(st.since, at, prog.tier_period)):
        await outbox.add(conn, events.TierNear(
            shop=shop, customer_id=customer_id, next_tier=near.name,
            amount_to_next=near.threshold - spend, currency=prog.currency), source=SOURCE)


async def _announce(conn: Connection, shop: str, acct: asyncpg.Record, applies: Tier,
                    prog: Program, at: datetime) -> None:
    """tier.changed when the tier that applies is not the one last announced (the account is locked)."""
    change = tiers.announcement(acct["announced_tier"], applies, prog.tiers, override=acct["tier_override"],
                                override_until=acct["tier_override_until"], now=at)
    if change is None:
        return
    await store.tiers.set_announced(conn, shop, acct["customer_id"], change.to_tier)
    await outbox.add(conn, events.TierChanged(
        shop=shop, customer_id=acct["customer_id"], from_tier=change.from_tier, to_tier=change.to_tier,
        direction=change.direction, reason=change.reason), source=SOURCE)


async def review(conn: Connection, shop: str, customer_id: str) -> None:
    """The review job (end of a period or of an override)."""
    await refresh(conn, shop, customer_id, await configuration.seeded(conn, shop))


async def override(pool: asyncpg.Pool, shop: str, customer_id: str, name: str, reason: str,
                   until: datetime) -> accounts.AccountView:
    """Put a customer in a tier until a date (admin): announced now, and again when it ends."""
    async with transaction(pool) as conn:
        prog = await configuration.seeded(conn, shop)
        tier = tiers.check_override(name, reason, until, prog.tiers, datetime.now(UTC))
        await refresh(conn, shop, customer_id, prog)  # the tier before it is announced first (initial, say)
        await store.tiers.set_override(conn, shop, customer_id, tier.name, until, reason.strip())
        # At its end the spend's tier applies again: announced by the job (or any refresh after it).
        await schedule.schedule(conn, shop=shop, kind=REVIEW_JOB, due_at=until,
                                dedup_key=f"{customer_id}|override|{until.isoformat()}",
                                payload={"customer_id": customer_id})
        await refresh(conn, shop, customer_id, prog)
        return await accounts.view(conn, shop, customer_id)
