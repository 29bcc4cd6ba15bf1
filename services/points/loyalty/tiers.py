"""VIP tiers: qualification on rolling-12-month spend, upgrade at once, downgrade only when the
period a tier was reached in has ended, and the 'almost there' nudge. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.points.loyalty.program import Tier
from shared.errors import BadUserInput

PERIOD = timedelta(days=365)
NEAR_SHARE = Decimal("0.15")


def qualifying(spend: Decimal, tiers: tuple[Tier, ...]) -> Tier:
    """The highest tier whose threshold the spend reaches."""
    found = tiers[0]
    for tier in tiers:
        if spend >= tier.threshold:
            found = tier
    return found


def by_name(name: str | None, tiers: tuple[Tier, ...]) -> Tier | None:
    return next((t for t in tiers if name is not None and t.name == name), None)


def rank(tier: Tier, tiers: tuple[Tier, ...]) -> int:
    return tiers.index(tier)


def next_tier(current: Tier, tiers: tuple[Tier, ...]) -> Tier | None:
    i = rank(current, tiers)
    return tiers[i + 1] if i + 1 < len(tiers) else None


@dataclass(frozen=True)
class Standing:
    tier: Tier
    since: datetime | None
    changed: bool
    direction: str | None  # "up" | "down"


def standing(stored: str | None, since: datetime | None, spend: Decimal, tiers: tuple[Tier, ...],
             now: datetime) -> Standing:
    """Where a customer stands now. A tier that was reached is kept until a full period has passed
    since it was reached; a higher qualifying tier applies at once."""
    earned = qualifying(spend, tiers)
    held = by_name(stored, tiers)
    if held is None:  # first look, or the tier was renamed away: take (and store) what the spend says
        return Standing(earned, now, True, "up")
    if rank(earned, tiers) > rank(held, tiers):
        return Standing(earned, now, True, "up")
    if rank(earned, tiers) < rank(held, tiers) and since is not None and now >= since + PERIOD:
        return Standing(earned, now, True, "down")
    return Standing(held, since, False, None)


def review_at(st: Standing, tiers: tuple[Tier, ...]) -> datetime | None:
    """When a tier just reached (or kept after a downgrade) above the lowest is looked at again: at the
    end of its period, even if the customer never buys again. None when nothing changed."""
    if not st.changed or st.since is None or rank(st.tier, tiers) == 0:
        return None
    return st.since + PERIOD


def qualifying_spend(orders: list[tuple[datetime, Decimal]], at: datetime) -> Decimal:
    """Net spend of the orders paid within the period before `at`: (paid_at, net amount still counting)
    pairs of orders in the program's currency that are not voided. store.orders.qualifying_spend asks the
    same of the database (tests/integration/points/test_simulation.py holds the two together)."""
    since = at - PERIOD
    return sum((net for paid_at, net in orders if paid_at > since), Decimal(0))


def amount_to_next(current: Tier, spend: Decimal, tiers: tuple[Tier, ...]) -> tuple[Tier, Decimal] | None:
    nxt = next_tier(current, tiers)
    if nxt is None:
        return None
    return nxt, max(nxt.threshold - spend, Decimal(0))


def is_near(current: Tier, spend: Decimal, tiers: tuple[Tier, ...]) -> Tier | None:
    """The next tier when the gap is within 15 % of its threshold (and not yet reached)."""
    gap = amount_to_next(current, spend, tiers)
    if gap is None:
        return None
    nxt, missing = gap
    if 0 < missing <= nxt.threshold * NEAR_SHARE:
        return nxt
    return None


def period_key(since: datetime | None, now: datetime) -> str:
    """Names the qualifying period a nudge belongs to: one nudge per tier per period."""
    start = since or now
    periods = max(int((now - start) / PERIOD), 0)
    return (start + periods * PERIOD).date().isoformat()


MAX_OVERRIDE = timedelta(days=5 * 365)


def overridden(st: Standing, override: str | None, until: datetime | None, tiers: tuple[Tier, ...],
               now: datetime) -> Tier:
    """The tier that applies: an admin override until its end date, else the standing."""
    forced = by_name(override, tiers)
    if forced is not None and until is not None and now < until:
        return forced
    return st.tier


def check_override(name: str, reason: str, until: datetime, tiers: tuple[Tier, ...], now: datetime) -> Tier:
    tier = by_name(name, tiers)
    if tier is None:
        raise BadUserInput(f"unknown tier {name}", field="tier")
    if not reason.strip() or len(reason) > 500:
        raise BadUserInput("reason must be 1–500 characters", field="reason")
    if until.tzinfo is None or not now < until <= now + MAX_OVERRIDE:
        raise BadUserInput("until must be a future time with an offset, at most 5 years ahead", field="until")
    return tier


# Why the tier that applies moved, as tier.changed says it (None: spend qualified it up or down).
INITIAL = "initial"  # the first tier a customer is given (usually the program's lowest)
OVERRIDE_STARTED = "override_started"  # an admin put the customer in a tier
OVERRIDE_ENDED = "override_ended"  # that override ran out: the tier the spend says applies again


@dataclass(frozen=True)
class Change:
    from_tier: str | None
    to_tier: str
    direction: str  # "up" | "down"; from no tier at all is "up"
    reason: str | None


def announcement(announced: str | None, applies: Tier, tiers: tuple[Tier, ...], *, override: str | None,
                 override_until: datetime | None, now: datetime) -> Change | None:
    """What tier.changed says when the tier that applies now (`applies`, the one LoyaltyAccount.tier
    shows) differs from the one last announced (`announced`, None before the first); None when they
    agree. Other services keep a customer's tier from these events alone, so every move of the
    applied tier is announced, including the first one and an override's start and end."""
    if announced == applies.name:
        return None
    held = by_name(announced, tiers)
    direction = "down" if held is not None and rank(applies, tiers) < rank(held, tiers) else "up"
    overriding = override is not None and override_until is not None
    if overriding and now < override_until and applies.name == override:  # type: ignore[operator]
        reason: str | None = OVERRIDE_STARTED
    elif overriding and now >= override_until and announced == override:  # type: ignore[operator]
        reason = OVERRIDE_ENDED
    elif announced is None and rank(applies, tiers) == 0:
        reason = INITIAL
    else:
        reason = None
    return Change(announced, applies.name, direction, reason)
