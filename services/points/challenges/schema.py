"""GraphQL of challenges, badges and streaks: their types, the per-request loader of challenges,
and the resolvers that services/points/schema.py mounts on Query, Mutation and Customer. Resolvers
are thin: they parse, check who calls, call one use case (or one read) and map the result."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from services.points.challenges import badges, goals, organising, store, streaks
from services.points.loyalty.schema import Keyed
from shared.graphql import Context, ctx, customer_ctx, rows_loader
from shared.ids import external_id

LEADERBOARD_DEFAULT = 10
LEADERBOARD_MAX = 100


@strawberry.enum
class ChallengeEvent(Enum):
    REVIEW_PUBLISHED = "REVIEW_PUBLISHED"
    ORDER_PAID = "ORDER_PAID"
    REFERRAL_CONVERTED = "REFERRAL_CONVERTED"
    UGC_SUBMITTED = "UGC_SUBMITTED"


@strawberry.enum
class ChallengeStatus(Enum):
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


@strawberry.enum
class ChallengeMeasure(Enum):
    COUNT = "COUNT"
    SPEND = "SPEND"


@strawberry.enum
class Segment(Enum):
    PROSPECT = "PROSPECT"
    NEW = "NEW"
    REGULAR = "REGULAR"
    VIP = "VIP"
    OCCASIONAL = "OCCASIONAL"
    AT_RISK = "AT_RISK"
    CHURNED = "CHURNED"


@strawberry.type
class ChallengeGoal:
    event: ChallengeEvent
    count: int
    with_media: bool = strawberry.field(description="REVIEW_PUBLISHED: only reviews with photos or videos count.")
    hashtag: str | None = strawberry.field(description="UGC_SUBMITTED: the tag a post must carry (without #).")
    measure: ChallengeMeasure = strawberry.field(description=(
        "COUNT: events; SPEND (ORDER_PAID): whole units of the shop currency of net spend, count is the amount."))


@strawberry.type(description=(
    "A place on a leaderboard. Tie rule: more progress first; on equal progress the earlier completion, then "
    "the earlier last progress, then the earlier join."))
class LeaderboardEntry:
    rank: int
    progress: int
    completed: bool
    completed_at: datetime | None
    is_me: bool = strawberry.field(description="True on the calling customer's own entry.")
    customer_id: strawberry.ID | None = strawberry.field(description="Admins only; null for anyone else.")


async def challenge_leaderboard(root: Challenge, info: Info, first: int | None = None) -> list[LeaderboardEntry]:
    c = ctx(info)
    size = min(max(first if first is not None else LEADERBOARD_DEFAULT, 0), LEADERBOARD_MAX)
    me = c.principal.customer_id
    admin = c.principal.is_admin
    rows = await organising.leaders(c.pool, c.shop, root.id, size)
    return [LeaderboardEntry(rank=i, progress=s.progress, completed=s.completed_at is not None,
                             completed_at=s.completed_at, is_me=me is not None and s.customer_id == me,
                             customer_id=strawberry.ID(s.customer_id) if admin else None)
            for i, s in enumerate(rows, start=1)]


@strawberry.type
class Challenge:
    row: strawberry.Private[asyncpg.Record]
    id: strawberry.ID
    title: str
    description: str | None
    status: ChallengeStatus
    hashtag: str | None
    goal: ChallengeGoal
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None = strawberry.field(description="Set when an admin ended the challenge early.")
    audience: Segment | None = strawberry.field(description="Null: every customer may join.")
    audience_tier: str | None = strawberry.field(description=(
        "A tier name of the shop's program: only customers whose CURRENT tier is exactly this tier may join "
        "(and are invited); a higher or lower tier is not in the audience. Null: no tier audience."))
    reward_points: int
    badge: str | None
    leaderboard_bonus: int = strawberry.field(description="Points for each of the top leaderboardTop at the end.")
    leaderboard_top: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> Challenge:
        return cls(
            row=row, id=strawberry.ID(row["id"]), title=row["title"], description=row["description"],
            status=ChallengeStatus(goals.status(row["starts_at"], row["ends_at"], row["ended_at"],
                                                datetime.now(UTC))),
            hashtag=row["hashtag"],
            goal=ChallengeGoal(event=ChallengeEvent(row["goal_event"]), count=row["goal_count"],
                               with_media=row["goal_with_media"], hashtag=row["goal_hashtag"],
                               measure=ChallengeMeasure(row["goal_measure"])),
            starts_at=row["starts_at"], ends_at=row["ends_at"], ended_at=row["ended_at"],
            audience=Segment(row["audience"]) if row["audience"] else None, audience_tier=row["audience_tier"],
            reward_points=row["reward_points"],
            badge=row["badge"], leaderboard_bonus=row["leaderboard_bonus"], leaderboard_top=row["leaderboard_top"])

    leaderboard: list[LeaderboardEntry] = strawberry.field(
        resolver=challenge_leaderboard, description="The top entries by progress (public), at most 100.")


@strawberry.type
class ChallengeProgress:
    challenge: Challenge
    progress: int
    completed: bool
    completed_at: datetime | None
    joined_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record, challenge: asyncpg.Record | None) -> ChallengeProgress:
        if challenge is None:  # progress references its challenge: it exists
            raise LookupError(f"challenge {row['challenge_id']} is missing")
        return cls(challenge=Challenge.of(challenge), progress=row["progress"],
                   completed=row["completed_at"] is not None, completed_at=row["completed_at"],
                   joined_at=row["joined_at"])


def challenge_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """The challenges of every progress row a request shows, in one query."""
    return rows_loader(c, "points:challenges", "id", store.challenges)


@strawberry.type
class Badge:
    name: str
    awarded_at: datetime
    source: str = strawberry.field(description="What awarded it: challenge:<id> or streak:<weeks>.")


@strawberry.type
class BadgeDefinition:
    name: str
    description: str


@strawberry.type(description="Consecutive ISO weeks with a purchase or a review.")
class Streak:
    current: int = strawberry.field(description="Weeks in a row up to this week (or last week, if this one "
                                                "has no activity yet).")
    longest: int
    last_active_week: date | None = strawberry.field(description="The Monday of the last active week.")


@strawberry.input
class ChallengeGoalInput:
    event: ChallengeEvent
    count: int
    with_media: bool | None = None
    hashtag: str | None = None
    measure: ChallengeMeasure | None = strawberry.field(default=None, description=(
        "COUNT (default) or SPEND for ORDER_PAID: count is then an amount in whole units of the shop currency."))


@strawberry.input
class ChallengeInput:
    title: str
    goal: ChallengeGoalInput
    starts_at: datetime
    ends_at: datetime
    reward_points: int
    description: str | None = None
    hashtag: str | None = None
    audience: Segment | None = None
    audience_tier: str | None = strawberry.field(default=None, description=(
        "A tier name of the shop's program (e.g. \"Gold\"): only customers whose CURRENT tier is exactly this "
        "tier may join and are invited. Not together with audience; an unknown tier is a BAD_USER_INPUT."))
    badge: str | None = None
    leaderboard_bonus: int | None = strawberry.field(default=None, description="Points for each of the top "
                                                     "leaderboardTop when the challenge ends.")
    leaderboard_top: int | None = strawberry.field(default=None, description="How many get the bonus (default 3).")
    idempotency_key: str | None = strawberry.field(default=None, description="The same key returns the same "
                                                   "challenge; with another input it is a CONFLICT.")


# ---- resolvers mounted by schema.py ------------------------------------------------------


async def list_challenges(info: Info, status: ChallengeStatus | None = None) -> list[Challenge]:
    """The shop's challenges, newest start first (public)."""
    c = ctx(info)
    found = [Challenge.of(r) for r in await store.all_challenges(c.pool, c.shop)]
    return [ch for ch in found if status is None or ch.status == status]


async def one_challenge(info: Info, id: strawberry.ID) -> Challenge | None:
    c = ctx(info)
    row = await store.challenge(c.pool, c.shop, external_id(id, "id"))
    return Challenge.of(row) if row else None


async def badge_catalog(info: Info) -> list[BadgeDefinition]:
    """Every badge the shop's customers can earn (public)."""
    c = ctx(info)
    return [BadgeDefinition(name=b.name, description=b.description)
            for b in badges.catalogue(await store.challenge_badges(c.pool, c.shop))]


async def launch_challenge(info: Info, input: ChallengeInput) -> Challenge:
    c = ctx(info)
    c.principal.require_admin()
    g = input.goal
    return Challenge.of(await organising.launch(
        c.pool, c.shop, title=input.title, description=input.description, hashtag_=input.hashtag,
        goal_event=g.event.value, goal_count=g.count, goal_with_media=g.with_media, goal_hashtag=g.hashtag,
        goal_measure=g.measure.value if g.measure else None, starts_at=input.starts_at, ends_at=input.ends_at,
        audience=input.audience.value if input.audience else None, reward_points=input.reward_points,
        badge=input.badge, leaderboard_bonus=input.leaderboard_bonus, leaderboard_top=input.leaderboard_top,
        idempotency_key=input.idempotency_key, audience_tier=input.audience_tier))


async def end_challenge(info: Info, id: strawberry.ID) -> Challenge:
    c = ctx(info)
    c.principal.require_admin()
    return Challenge.of(await organising.end(c.pool, c.shop, external_id(id, "id")))


async def join_challenge(info: Info, id: strawberry.ID) -> ChallengeProgress:
    c = ctx(info)
    customer_id = c.principal.require_customer()
    joined = await organising.join(c.pool, c.shop, external_id(id, "id"), customer_id)
    return ChallengeProgress.of(joined.progress, joined.challenge)


async def customer_progress(root: Keyed, info: Info) -> list[ChallengeProgress]:
    c = customer_ctx(info, root.id)
    rows = await store.progress_of(c.pool, c.shop, root.id)
    found = await challenge_rows(c).load_many([r["challenge_id"] for r in rows])
    return [ChallengeProgress.of(r, ch) for r, ch in zip(rows, found, strict=True)]


async def customer_badges(root: Keyed, info: Info) -> list[Badge]:
    c = customer_ctx(info, root.id)
    return [Badge(name=r["badge"], awarded_at=r["awarded_at"], source=r["source"])
            for r in await store.badges_of(c.pool, c.shop, root.id)]


async def customer_streak(root: Keyed, info: Info) -> Streak:
    c = customer_ctx(info, root.id)
    st = streaks.streak(await store.activity_weeks(c.pool, c.shop, root.id), datetime.now(UTC).date())
    return Streak(current=st.current, longest=st.longest, last_active_week=st.last_week)
