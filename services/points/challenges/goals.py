"""Community challenges in the domain's words (docs/domain.md, Community challenges): what a
challenge is and what counts towards it. Pure: no I/O.

A challenge has a goal over one kind of event (n reviews, optionally with media; n paid orders; n
converted referrals; n UGC posts with a hashtag), a window [startsAt, endsAt), an audience (everyone,
one segment, or the customers whose current tier is exactly one tier of the shop's program) and a
reward granted once on completion. Only customers who joined make progress, and only with events
that happened after they joined, inside the window and before an early end: progress is opt-in, so
a leaderboard shows the people who chose to take part.

A refunded or cancelled order takes back the progress it brought (a COUNT goal loses the order on a
full refund or a cancellation, a SPEND goal the whole units no longer left of it); when the progress
then falls below the goal, the completion and its reward are taken back too (counting.revoke), as a
refund takes back the points the order earned (docs/domain.md, Points). Refunded purchases keep their
streak week (counting.record_activity). The leaderboard's order is in leaderboard.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from shared.errors import BadUserInput
from shared.ids import external_id

EVENTS = ("REVIEW_PUBLISHED", "ORDER_PAID", "REFERRAL_CONVERTED", "UGC_SUBMITTED")
SEGMENTS = ("PROSPECT", "NEW", "REGULAR", "VIP", "OCCASIONAL", "AT_RISK", "CHURNED")
FIRST_SEGMENT = "PROSPECT"  # every customer's segment until customer.segment_changed says otherwise
MEASURES = ("COUNT", "SPEND")  # SPEND: ORDER_PAID only, whole currency units of the net amount
SCHEDULED, ACTIVE, ENDED = "SCHEDULED", "ACTIVE", "ENDED"
TITLE_MAX = 200
DESCRIPTION_MAX = 2000
BADGE_MAX = 60
HASHTAG = re.compile(r"^#?(\w{1,50})$")
MAX_COUNT = 1000
MAX_SPEND = 10_000_000
MAX_POINTS = 1_000_000
MAX_TOP = 100
MAX_WINDOW = timedelta(days=366)
DEFAULT_TOP = 3


@dataclass(frozen=True)
class Goal:
    event: str
    count: int
    with_media: bool = False
    hashtag: str | None = None
    measure: str = "COUNT"


@dataclass(frozen=True)
class Launch:
    """A validated launchChallenge input."""
    title: str
    description: str | None
    hashtag: str | None
    goal: Goal
    starts_at: datetime
    ends_at: datetime
    audience: str | None
    reward_points: int
    badge: str | None
    leaderboard_bonus: int
    leaderboard_top: int
    idempotency_key: str | None
    audience_tier: str | None = None

    def fingerprint(self) -> str:
        """Same idempotency key with another input is a conflict, not a silent replay. No tier audience
        leaves the field out, so fingerprints stored without that field still match."""
        data = {k: v for k, v in asdict(self).items()
                if k != "idempotency_key" and not (k == "audience_tier" and v is None)}
        return hashlib.sha256(json.dumps(data, default=str, sort_keys=True).encode()).hexdigest()


def new_id() -> str:
    return f"ch-{secrets.token_hex(8)}"


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise BadUserInput(f"{field} must not be empty", field=field)
        return None
    if len(text) > limit or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise BadUserInput(f"{field} must be at most {limit} printable characters", field=field)
    return text


def hashtag(value: str | None, field: str = "hashtag") -> str | None:
    """A hashtag without its '#', lower case: `#Summer_Look` and `summer_look` are the same tag."""
    if value is None or not value.strip():
        return None
    match = HASHTAG.match(value.strip())
    if match is None:
        raise BadUserInput(f"{field} must be 1–50 letters, digits or _", field=field)
    return match.group(1).lower()


def _count(value: int | None, field: str, limit: int, *, minimum: int) -> int:
    if value is None or value < minimum or value > limit:
        raise BadUserInput(f"{field} must be between {minimum} and {limit}", field=field)
    return value


def launch(*, title: str, description: str | None, hashtag_: str | None, goal_event: str, goal_count: int,
           goal_with_media: bool | None, goal_hashtag: str | None, goal_measure: str | None, starts_at: datetime,
           ends_at: datetime,
           audience: str | None, reward_points: int, badge: str | None, leaderboard_bonus: int | None,
           leaderboard_top: int | None, idempotency_key: str | None, audience_tier: str | None = None,
           tier_names: tuple[str, ...] = ()) -> Launch:
    """Check a launch; every problem is a BAD_USER_INPUT naming its field, and nothing is stored.
    `tier_names` are the tiers of the shop's program: a tier audience must name one of them."""
    if goal_event not in EVENTS:
        raise BadUserInput(f"goal.event must be one of {', '.join(EVENTS)}", field="goal.event")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise BadUserInput("startsAt and endsAt need a time zone", field="startsAt")
    if ends_at <= starts_at:
        raise BadUserInput("endsAt must be after startsAt", field="endsAt")
    if ends_at - starts_at > MAX_WINDOW:
        raise BadUserInput("a challenge lasts at most 366 days", field="endsAt")
    if audience is not None and audience not in SEGMENTS:
        raise BadUserInput(f"audience must be one of {', '.join(SEGMENTS)}", field="audience")
    tier = audience_tier_of(audience, audience_tier, tier_names)
    tag = hashtag(hashtag_)
    goal_tag = hashtag(goal_hashtag, "goal.hashtag") or (tag if goal_event == "UGC_SUBMITTED" else None)
    if goal_tag is not None and goal_event != "UGC_SUBMITTED":
        raise BadUserInput("goal.hashtag is for UGC_SUBMITTED goals", field="goal.hashtag")
    if goal_with_media and goal_event != "REVIEW_PUBLISHED":
        raise BadUserInput("goal.withMedia is for REVIEW_PUBLISHED goals", field="goal.withMedia")
    measure = goal_measure or "COUNT"
    if measure not in MEASURES or (measure == "SPEND" and goal_event != "ORDER_PAID"):
        raise BadUserInput("goal.measure SPEND is for ORDER_PAID goals", field="goal.measure")
    limit = MAX_SPEND if measure == "SPEND" else MAX_COUNT
    return Launch(
        title=_text(title, "title", TITLE_MAX, required=True) or "",
        description=_text(description, "description", DESCRIPTION_MAX),
        hashtag=tag,
        goal=Goal(goal_event, _count(goal_count, "goal.count", limit, minimum=1), bool(goal_with_media),
                  goal_tag, measure),
        starts_at=starts_at, ends_at=ends_at, audience=audience,
        reward_points=_count(reward_points, "rewardPoints", MAX_POINTS, minimum=0),
        badge=_text(badge, "badge", BADGE_MAX),
        leaderboard_bonus=_count(leaderboard_bonus or 0, "leaderboardBonus", MAX_POINTS, minimum=0),
        leaderboard_top=_count(leaderboard_top or DEFAULT_TOP, "leaderboardTop", MAX_TOP, minimum=1),
        idempotency_key=external_id(idempotency_key, "idempotencyKey") if idempotency_key is not None else None,
        audience_tier=tier,
    )


def audience_tier_of(audience: str | None, audience_tier: str | None, tier_names: tuple[str, ...]) -> str | None:
    """A tier audience: one tier name of the shop's program, and not together with a segment audience."""
    if audience_tier is None:
        return None
    if audience is not None:
        raise BadUserInput("a challenge's audience is a segment or a tier, not both", field="audienceTier")
    name = audience_tier.strip()
    if name not in tier_names:
        raise BadUserInput(f"audienceTier must be one of {', '.join(tier_names)}", field="audienceTier")
    return name


def status(starts_at: datetime, ends_at: datetime, ended_at: datetime | None, at: datetime) -> str:
    """Derived from the window and an early end, never stored, so it cannot go stale."""
    if ended_at is not None and ended_at <= at or at >= ends_at:
        return ENDED
    return SCHEDULED if at < starts_at else ACTIVE


def end_of(ends_at: datetime, ended_at: datetime | None) -> datetime:
    return min(ends_at, ended_at) if ended_at is not None else ends_at


def in_window(at: datetime, starts_at: datetime, ends_at: datetime, ended_at: datetime | None) -> bool:
    return starts_at <= at < end_of(ends_at, ended_at)


@dataclass(frozen=True)
class Happening:
    """One event as challenges see it: its kind, its natural key, whose it is and when it happened."""
    event: str
    source_key: str
    customer_id: str
    at: datetime
    with_media: bool = False
    hashtags: tuple[str, ...] = ()
    challenge_id: str | None = None
    amount: Decimal = Decimal(0)  # ORDER_PAID: the net amount in the shop's currency (0 in another one)


def counts(goal: Goal, challenge_id: str, h: Happening) -> bool:
    """Whether this event moves this challenge's goal (the window and the join are checked apart)."""
    if h.event != goal.event:
        return False
    if goal.event == "REVIEW_PUBLISHED":
        return h.with_media or not goal.with_media
    if goal.event == "UGC_SUBMITTED":
        tags = {t.lstrip("#").lower() for t in h.hashtags}
        return (goal.hashtag is not None and goal.hashtag in tags) or h.challenge_id == challenge_id
    return step(goal, h) > 0


def step(goal: Goal, h: Happening) -> int:
    """How far one counting event moves the progress: 1, or for a SPEND goal its whole currency units."""
    if goal.measure == "SPEND":
        return whole_units(h.amount)
    return 1


def whole_units(amount: Decimal) -> int:
    return int(max(amount, Decimal(0)).to_integral_value(rounding=ROUND_FLOOR))


def still_counted(goal: Goal, counted: int, net_remaining: Decimal, voided: bool) -> int:
    """What a counted order still adds to the progress after a refund or a cancellation: nothing once it
    is cancelled or fully refunded; for a SPEND goal the whole units of what is left of it (computed
    from the exact remaining amount, never from a difference of rounded ones); a COUNT goal keeps a
    partly refunded order. Never more than it added: a refund never adds progress, and a late or
    replayed refund that says more remains than an earlier one changes nothing."""
    if voided:
        return 0
    if goal.measure == "SPEND":
        return min(counted, whole_units(net_remaining))
    return counted


def falls_short(completed: bool, after: int, goal_count: int) -> bool:
    """A completion is taken back when a refund leaves the progress below the goal: the completion was
    only reached with what has now been refunded."""
    return completed and after < goal_count


def completion_key(challenge_id: str, customer_id: str, revoked: int) -> str:
    """The ledger key of a completion's reward points: one per completion, so a completion reached
    again after one was taken back pays again (once), and a replay pays nothing."""
    base = f"challenge:{challenge_id}:{customer_id}"
    return base if revoked == 0 else f"{base}:again:{revoked}"


def completes(before: int, after: int, goal_count: int) -> bool:
    """True exactly once: on the step that reaches the goal."""
    return before < goal_count <= after
