"""VIP tiers: qualification on rolling spend over the tier period (default 365 days), upgrade at once,
downgrade only at the end of the period the tier is held for (a customer who still qualifies then
starts a new period), and the 'almost there' nudge. Pure: no I/O. The period and the nudge's share
are the program's (`tier_period_days`, `near_tier_percent`); the constants are their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.points.loyalty.program import Tier
from shared.errors import BadUserInput

PERIOD = timedelta(days=365)  # the default tier period (Program.tier_period_days)
NEAR_SHARE = Decimal("0.15")  # the default nudge share (Program.near_tier_percent)


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


def period_end(since: datetime, now: datetime, period: timedelta = PERIOD) -> datetime:
    """The latest end of a period (since + n × period, n ≥ 1) at or before `now`; `since + period`
    while the first period lasts."""
    ended = max(int((now - since) / period), 1)
    return since + ended * period


def standing(stored: str | None, since: datetime | None, spend: Decimal, tiers: tuple[Tier, ...],
             now: datetime, *, period: timedelta = PERIOD, spend_at_end: Decimal | None = None) -> Standing:
    """Where a customer stands now. A higher qualifying tier applies at once. The tier held is kept
    for its whole period (from `since`); at the period's end the spend over the period then
    (`spend_at_end`, the spend now when not given) decides: still qualifying for the tier held starts
    a new period at that end (a renewal: the tier stays, `since` moves), else the customer goes down
    to what the spend now says."""
    earned = qualifying(spend, tiers)
    held = by_name(stored, tiers)
    if held is None:  # first look, or the tier was renamed away: take (and store) what the spend says
        return Standing(earned, now, True, "up")
    if rank(earned, tiers) > rank(held, tiers):
        return Standing(earned, now, True, "up")
    if since is None or now < since + period:
        return Standing(held, since, False, None)
    end = period_end(since, now, period)
    at_end = qualifying(spend if spend_at_end is None else spend_at_end, tiers)
    if rank(at_end, tiers) >= rank(held, tiers):  # re-qualified at the end: a new period from there
        return Standing(held, end, True, None)
    if rank(earned, tiers) >= rank(held, tiers):  # missed it at the end, qualifies again now
        return Standing(held, now, True, None)
    return Standing(earned, now, True, "down")


def review_at(st: Standing, tiers: tuple[Tier, ...], period: timedelta = PERIOD) -> datetime | None:
    """When a tier just reached (or kept after a downgrade) above the lowest is looked at again: at the
    end of its period, even if the customer never buys again. None when nothing changed."""
    if not st.changed or st.since is None or rank(st.tier, tiers) == 0:
        return None
    return st.since + period


def qualifying_spend(orders: list[tuple[datetime, Decimal]], at: datetime, period: timedelta = PERIOD) -> Decimal:
    """Net spend of the orders paid within the period before `at`: (paid_at, net amount still counting)
    pairs of orders in the program's currency that are not voided. store.orders.qualifying_spend asks the
    same of the database (tests/integration/points/test_simulation.py holds the two together)."""
    since = at - period
    return sum((net for paid_at, net in orders if paid_at > since), Decimal(0))


def amount_to_next(current: Tier, spend: Decimal, tiers: tuple[Tier, ...]) -> tuple[Tier, Decimal] | None:
    nxt = next_tier(current, tiers)
    if nxt is None:
        return None
    return nxt, max(nxt.threshold - spend, Decimal(0))


def is_near(current: Tier, spend: Decimal, tiers: tuple[Tier, ...], share: Decimal = NEAR_SHARE) -> Tier | None:
    """The next tier when the gap is within `share` (default 15 %) of its threshold (and not yet reached)."""
    gap = amount_to_next(current, spend, tiers)
    if gap is None:
        return None
    nxt, missing = gap
    if 0 < missing <= nxt.threshold * share:
        return nxt
    return None


def period_key(since: datetime | None, now: datetime, period: timedelta = PERIOD) -> str:
    """Names the qualifying period a nudge belongs to: one nudge per tier per period."""
    start = since or now
    periods = max(int((now - start) / period), 0)
    return (start + periods * period).date().isoformat()


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
