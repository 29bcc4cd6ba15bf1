"""A customer's loyalty account as they see it: their standing on rolling spend, the tier that
applies (the standing, or an admin override while it lasts), and what LoyaltyAccount shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from services.points.loyalty import configuration, expiry, store, tiers
from services.points.loyalty.program import Program, Tier
from shared.db import Executor


def applied(acct: asyncpg.Record | None, st: tiers.Standing, prog: Program, at: datetime) -> Tier:
    """The tier that applies at `at` to the account standing at `st`."""
    if acct is None:
        return st.tier
    return tiers.overridden(st, acct["tier_override"], acct["tier_override_until"], prog.tiers, at)


async def standing(conn: Executor, shop: str, acct: asyncpg.Record | None, customer_id: str, prog: Program,
                   at: datetime) -> tuple[tiers.Standing, Decimal]:
    """Where the customer stands at `at`, and their qualifying spend over the period before it. Once the
    period the tier is held for has ended, the spend over the period up to its end decides whether it
    is renewed (tiers.standing)."""
    period = prog.tier_period
    spend = await store.orders.qualifying_spend(conn, shop, customer_id, prog.currency, at - period)
    stored = acct["tier"] if acct is not None else None
    since = acct["tier_since"] if acct is not None else None
    at_end = None
    if stored is not None and since is not None and at >= since + period:
        end = tiers.period_end(since, at, period)
        at_end = await store.orders.qualifying_spend(conn, shop, customer_id, prog.currency, end - period, end)
    return tiers.standing(stored, since, spend, prog.tiers, at, period=period, spend_at_end=at_end), spend


async def current_tier(conn: Executor, shop: str, customer_id: str) -> Tier:
    """The tier that applies to a customer now (as LoyaltyAccount.tier shows it)."""
    prog = await configuration.in_force(conn, shop)
    acct = await store.ledger.account(conn, shop, customer_id)
    at = datetime.now(UTC)
    st, _ = await standing(conn, shop, acct, customer_id, prog, at)
    return applied(acct, st, prog, at)


@dataclass(frozen=True)
class AccountView:
    customer_id: str
    currency: str
    balance: int
    pending: int
    lifetime_earned: int
    shortfall: int
    tier: Tier
    tier_override_until: datetime | None
    next_tier: Tier | None
    amount_to_next_tier: Decimal | None
    expiring_points: int
    expiring_at: datetime | None


async def view(conn: Executor, shop: str, customer_id: str, acct: asyncpg.Record | None = None) -> AccountView:
    """What the account shows now; `acct` is the row when the caller has just changed it."""
    prog = await configuration.in_force(conn, shop)
    if acct is None:
        acct = await store.ledger.account(conn, shop, customer_id)
    at = datetime.now(UTC)
    st, spend = await standing(conn, shop, acct, customer_id, prog, at)
    tier = applied(acct, st, prog, at)
    gap = tiers.amount_to_next(tier, spend, prog.tiers)
    balance = acct["balance"] if acct else 0
    lapse = expiry.expires_at(acct["last_activity_at"] if acct else None, prog.expiry_months, balance)
    return AccountView(
        customer_id=customer_id, currency=prog.currency, balance=balance, pending=acct["pending"] if acct else 0,
        lifetime_earned=acct["lifetime_earned"] if acct else 0, shortfall=acct["shortfall"] if acct else 0,
        tier=tier,
        tier_override_until=acct["tier_override_until"] if acct and tier.name == acct["tier_override"] else None,
        next_tier=gap[0] if gap else None, amount_to_next_tier=gap[1] if gap else None,
        expiring_points=balance if lapse else 0, expiring_at=lapse,
    )
