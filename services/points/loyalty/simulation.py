"""Replaying a period of a shop's history under a program (simulateProgram). Pure: no I/O.

A customer's history before the period is what happened: their balances and last activity come from
the ledger, their tier from their recorded orders (under the versions then in force). From `start` to
`end` their orders, refunds and actions are replayed under the program given, through the live
ledger's own rules (ledger.py, tiers.py, expiry.py, wallet.py): points per order and the tier's
multiplier (an order in another currency at the program's exchange rate, none without one: NOT_ELIGIBLE,
as earning.order_paid; the qualifying spend and the net revenue at that rate too), the return window,
takebacks and shortfalls, action rewards, expiry, tier upgrades, downgrades and reviews. Replayed under
the program that was in force, it gives what the ledger holds.

Taken from the ledger as recorded: redemptions (skipped when the replayed balance could not pay them),
adjustments, challenge rewards and their takebacks. Not replayed: admin tier overrides (their start is
not kept) and a shortfall carried into the period (taken as 0).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.points.loyalty import expiry, ledger, tiers, wallet
from services.points.loyalty.program import Program
from shared.errors import BadUserInput

MAX_PERIOD = timedelta(days=3 * 366)  # three years, leap days included
CLOCK_SKEW = timedelta(minutes=5)
BAND = (Decimal("0.03"), Decimal("0.05"))  # DOMAIN.md: the sustainable effective cashback
ACTIONS = ("review", "birthday", "signup", "referral")  # keys of the program's action rewards


def check_period(start: datetime, end: datetime, now: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise BadUserInput("from and to need a time zone offset", field="from")
    if start >= end:
        raise BadUserInput("from must be before to", field="from")
    if end - start > MAX_PERIOD:
        raise BadUserInput("a simulation spans at most 3 years", field="to")
    if end > now + CLOCK_SKEW:
        raise BadUserInput("to may not lie in the future: a simulation replays what happened", field="to")


@dataclass(frozen=True)
class Change:
    """A refund or cancellation: what the order still counts with afterwards."""
    at: datetime
    net: Decimal
    voided: bool


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    currency: str
    paid_at: datetime
    paid_net: Decimal
    delivered_at: datetime | None
    release_at: datetime | None  # as planned live (orders delivered before the period keep it)
    changes: tuple[Change, ...]  # by time
    earned: int  # as recorded, with the rate and multiplier that earned it (orders before the period)
    earn_rate: Decimal
    multiplier: Decimal
    base_currency: str | None  # as recorded: the program currency it earned in, and the exchange rate
    fx_rate: Decimal | None  # that turned its amount into it (None: NOT_ELIGIBLE, it earned nothing)

    def net_at(self, at: datetime) -> Decimal:
        """What the order counts with at `at` (0 once voided)."""
        net = self.paid_net
        for change in self.changes:
            if change.at > at:
                break
            net = Decimal(0) if change.voided else change.net
        return net


@dataclass(frozen=True)
class EntryFacts:
    """A ledger entry the replay takes as it was made (actions, redemptions, adjustments, challenges)."""
    at: datetime
    kind: str
    bucket: str
    delta: int
    key: str
    reason: str
    rule_version: int | None


@dataclass(frozen=True)
class CustomerFacts:
    customer_id: str
    available: int  # the ledger's buckets before `start`
    pending: int
    last_activity: datetime | None  # the last earning or redemption before `start`
    orders: tuple[OrderFacts, ...]  # every paid order before `end`, by payment time
    entries: tuple[EntryFacts, ...]  # in the period, by time


@dataclass(frozen=True)
class Versions:
    """The program versions with the time each came into force, oldest first."""
    programs: tuple[tuple[datetime, Program], ...]

    def at(self, when: datetime) -> Program:
        times = [t for t, _ in self.programs]
        return self.programs[max(bisect_right(times, when) - 1, 0)][1]

    def number(self, version: int | None) -> Program | None:
        return next((p for _, p in self.programs if p.version == version), None)


@dataclass
class Totals:
    """What a replay adds up to over every customer of the shop."""
    orders: int = 0
    revenue: Decimal = Decimal(0)  # net, in the program currency, of the period's paid orders at the end
    issued: int = 0  # points earned in the period (purchases after their refunds, actions, challenges)
    pending: int = 0
    available: int = 0
    expired: int = 0
    redeemed: int = 0
    not_eligible: int = 0  # paid orders of the period without an exchange rate to the program currency
    tiers: Counter[str] = field(default_factory=Counter)

    def add(self, other: Totals) -> None:
        self.orders += other.orders
        self.revenue += other.revenue
        self.issued += other.issued
        self.pending += other.pending
        self.available += other.available
        self.expired += other.expired
        self.redeemed += other.redeemed
        self.not_eligible += other.not_eligible
        self.tiers.update(other.tiers)

    def to_json(self) -> dict[str, Any]:
        return {"orders": self.orders, "revenue": str(self.revenue), "issued": self.issued,
                "pending": self.pending, "available": self.available, "expired": self.expired,
                "redeemed": self.redeemed, "not_eligible": self.not_eligible, "tiers": dict(self.tiers)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Totals:
        return cls(orders=data["orders"], revenue=Decimal(data["revenue"]), issued=data["issued"],
                   pending=data["pending"], available=data["available"], expired=data["expired"],
                   redeemed=data["redeemed"], not_eligible=data.get("not_eligible", 0), tiers=Counter(data["tiers"]))


@dataclass
class _Order:
    facts: OrderFacts
    earned: int
    taken: int
    status: str  # PENDING | AVAILABLE | REVERSED | NOT_ELIGIBLE
    earn_rate: Decimal
    multiplier: Decimal
    fx_rate: Decimal | None  # the exchange rate it earned at (None: NOT_ELIGIBLE)
    release_planned: bool = False


class _Spend:
    """The customer's paid orders, for the qualifying spend (tiers.qualifying_spend) at a time: each in
    the program currency it earned in, at the rate it earned at (store.orders.qualifying_spend)."""

    def __init__(self) -> None:
        self.paid: list[tuple[OrderFacts, str | None, Decimal | None]] = []

    def add(self, order: OrderFacts, base_currency: str | None, fx_rate: Decimal | None) -> None:
        self.paid.append((order, base_currency, fx_rate))

    def recorded(self, order: OrderFacts) -> None:
        """An order as the ledger recorded it (paid before the period)."""
        self.add(order, order.base_currency, order.fx_rate)

    def at(self, when: datetime, currency: str, period: timedelta = tiers.PERIOD) -> Decimal:
        since = when - period
        recent = []
        for order, base, rate in reversed(self.paid):  # by payment time: the window is at the end
            if order.paid_at <= since:
                break
            if base == currency and rate is not None:
                recent.append((order.paid_at, order.net_at(when) * rate))
        return tiers.qualifying_spend(recent, when, period)


@dataclass
class TierState:
    """The tier the account stores, since when, and the reviews planned and not run yet."""
    stored: str | None = None
    since: datetime | None = None
    reviews: list[datetime] = field(default_factory=list)


def _refresh(state: TierState, spend: Decimal, prog: Program, at: datetime) -> datetime | None:
    """tiering.refresh without I/O: store what the standing says; the review it plans, if any."""
    st = tiers.standing(state.stored, state.since, spend, prog.tiers, at, period=prog.tier_period)
    if st.changed:
        state.stored, state.since = st.tier.name, st.since
    return tiers.review_at(st, prog.tiers, prog.tier_period)


def warm_up(customer: CustomerFacts, versions: Versions, start: datetime) -> TierState:
    """The customer's stored tier at `start`: their payments (and the reviews they planned) before it,
    each under the version then in force."""
    state, spend = TierState(), _Spend()
    reviews = state.reviews

    def refresh_at(at: datetime) -> None:
        prog = versions.at(at)
        _push_review(reviews, _refresh(state, spend.at(at, prog.currency, prog.tier_period), prog, at))

    for order in customer.orders:
        if order.paid_at >= start:
            break
        while reviews and reviews[0] <= order.paid_at:
            refresh_at(heapq.heappop(reviews))
        spend.recorded(order)
        refresh_at(order.paid_at)
    while reviews and reviews[0] < start:
        refresh_at(heapq.heappop(reviews))
    return state


def _push_review(reviews: list[datetime], at: datetime | None) -> None:
    if at is not None and at not in reviews:
        heapq.heappush(reviews, at)


def _program_reward(action: str, has_media: bool, prog: Program) -> int:
    """The points the program's action table gives (wallet.py's rules; credit instead gives 0 points)."""
    if action == "review":
        return wallet.review_reward("", "", has_media, prog.action_points, prog.review_credit,
                                    prog.media_review_credit).points
    if action == "birthday":
        return wallet.birthday_reward("", 0, prog.action_points).points
    if action == "signup":
        return wallet.signup_reward("", prog.action_points).points
    return wallet.referral_reward("", "points", None, None, prog.action_points.get("referral", 0)).points


def action_points(entry: EntryFacts, prog: Program, versions: Versions) -> int:
    """An action's points under `prog`: the program's value when the entry was the program's value of
    its version (a referral that named its own reward, say, keeps what it earned)."""
    action = entry.key.split(":", 1)[0]
    if action not in ACTIONS:
        return entry.delta
    has_media = entry.reason.startswith("photo/video ")
    then = versions.number(entry.rule_version)
    if then is None or _program_reward(action, has_media, then) != entry.delta:
        return entry.delta
    return _program_reward(action, has_media, prog)


# Event kinds in the order they go at the same instant.
_PAY, _DELIVER, _CHANGE, _ENTRY, _RELEASE, _REVIEW = range(6)


def replay(customer: CustomerFacts, prog: Program, versions: Versions, start: datetime, end: datetime,
           tier_at_start: TierState) -> Totals:
    """One customer's period under `prog`, from their state at `start`."""
    out = Totals()
    tier = TierState(tier_at_start.stored, tier_at_start.since)
    available, pending, shortfall = customer.available, customer.pending, 0
    last_activity = customer.last_activity
    spend, orders = _Spend(), {}
    queue: list[tuple[datetime, int, int, Any]] = []
    seq = 0

    def push(at: datetime | None, kind: int, item: Any) -> None:
        nonlocal seq
        if at is not None and at < end:
            seq += 1
            heapq.heappush(queue, (at, kind, seq, item))

    reviewed: set[datetime] = set()

    def plan_review(at: datetime | None) -> None:
        if at is not None and at not in reviewed:
            reviewed.add(at)
            push(max(at, start), _REVIEW, None)

    # The state at the start: orders paid before it, and the jobs they (and the last activity) planned.
    for facts in customer.orders:
        if facts.paid_at >= start:
            push(facts.paid_at, _PAY, facts)
            if facts.delivered_at is not None and facts.delivered_at >= start:
                push(facts.delivered_at, _DELIVER, facts)
            for change in facts.changes:
                push(change.at, _CHANGE, (facts.order_id, change))
            continue
        spend.recorded(facts)
        order = _Order(facts, facts.earned, 0, "PENDING" if facts.fx_rate is not None else "NOT_ELIGIBLE",
                       facts.earn_rate, facts.multiplier, facts.fx_rate)
        for change in facts.changes:
            if change.at >= start:
                push(change.at, _CHANGE, (facts.order_id, change))
                continue
            keep = ledger.order_points_to_keep(change.net, order.fx_rate, order.earn_rate, order.multiplier,
                                               voided=change.voided)
            order.taken += ledger.takeback(order.earned, order.taken, keep)
            if change.voided and order.status != "NOT_ELIGIBLE":
                order.status = "REVERSED"
        if order.status == "PENDING" and facts.release_at is not None and facts.release_at < start:
            order.status = "AVAILABLE"
        if order.status == "PENDING" and facts.delivered_at is not None:
            if facts.delivered_at < start:
                order.release_planned = True
                push(facts.release_at, _RELEASE, facts.order_id)
            else:
                push(facts.delivered_at, _DELIVER, facts)
        orders[facts.order_id] = order
    for review in tier_at_start.reviews:
        plan_review(review)
    for made in customer.entries:
        push(made.at, _ENTRY, made)
    # Each activity plans a lapse (posting._plan_expiry) that does nothing if a newer activity came first,
    # so only the latest activity's matters: it is looked at before each event and at the end, once the
    # shortest possible span of its months (28 days each) has passed.
    months = versions.at(last_activity).expiry_months if last_activity is not None else 0

    def activity(at: datetime) -> None:
        nonlocal last_activity, months
        last_activity, months = at, prog.expiry_months

    def lapse_before(at: datetime) -> None:
        """expiring.lapse, if the last activity's lapse fell before `at`: the whole balance."""
        nonlocal available, months
        if last_activity is None or months <= 0 or at - last_activity < timedelta(days=28 * months):
            return
        due = expiry.lapse_at(last_activity, months)
        if due is not None and due < at:
            out.expired += available
            available, months = 0, 0  # lapsed: nothing more until the next activity

    def credit_available(points: int) -> None:
        """posting.credit_available: into the available bucket, then settle a shortfall."""
        nonlocal available, shortfall
        available += points
        owed = ledger.net_shortfall(shortfall, points)
        available -= owed
        shortfall -= owed

    def take(points: int, bucket: str) -> None:
        """posting.reverse: what the bucket holds; the rest becomes a shortfall."""
        nonlocal available, pending, shortfall
        taken, short = ledger.split_takeback(points, pending if bucket == ledger.PENDING else available)
        if bucket == ledger.PENDING:
            pending -= taken
        else:
            available -= taken
        shortfall += short

    def plan_release(order: _Order, delivered_at: datetime) -> None:
        if order.status == "PENDING" and not order.release_planned:
            order.release_planned = True
            push(ledger.release_at(delivered_at, prog.pending_days), _RELEASE, order.facts.order_id)

    while queue:
        at, kind, _, item = heapq.heappop(queue)
        lapse_before(at)
        if kind == _PAY:
            facts = item
            spent = spend.at(at, prog.currency, prog.tier_period)
            st = tiers.standing(tier.stored, tier.since, spent, prog.tiers, at, period=prog.tier_period)
            fx = prog.rate_for(facts.currency)  # earning.order_paid: converted, or NOT_ELIGIBLE without a rate
            rate = fx.rate if fx is not None else None
            points = ledger.order_points(facts.paid_net, rate, prog.earn_rate, st.tier.multiplier)
            order = _Order(facts, points, 0, "PENDING" if rate is not None else "NOT_ELIGIBLE", prog.earn_rate,
                           st.tier.multiplier, rate)
            orders[facts.order_id] = order
            out.orders += 1
            out.not_eligible += rate is None
            if ledger.purchase_entry(customer.customer_id, facts.order_id, points, "", prog.version) is not None:
                pending += points
                out.issued += points
                activity(at)
            spend.add(facts, prog.currency, rate)
            plan_review(_refresh(tier, spend.at(at, prog.currency, prog.tier_period), prog, at))
            if facts.delivered_at is not None and facts.delivered_at <= at:
                plan_release(order, facts.delivered_at)
        elif kind == _DELIVER:
            found = orders.get(item.order_id)
            if found is not None:  # delivered before its payment: the payment plans the release
                plan_release(found, at)
        elif kind == _RELEASE:
            order = orders[item]
            if order.status == "PENDING":
                remaining = order.earned - order.taken  # earning.release: ledger.release_entries moves it
                if remaining > 0:
                    pending -= remaining
                    credit_available(remaining)
                order.status = "AVAILABLE"
        elif kind == _CHANGE:
            order_id, change = item
            order = orders[order_id]
            keep = ledger.order_points_to_keep(change.net, order.fx_rate, order.earn_rate, order.multiplier,
                                               voided=change.voided)
            points = ledger.takeback(order.earned, order.taken, keep)
            bucket = ledger.takeback_bucket(order.status)
            if change.voided and order.status != "NOT_ELIGIBLE":
                order.status = "REVERSED"
            order.taken += points
            if order.facts.paid_at >= start:
                out.issued -= points
            if points:
                take(points, bucket)
        elif kind == _ENTRY:
            entry = item
            if entry.kind == "earn":
                points = action_points(entry, prog, versions)
                if points > 0:
                    credit_available(points)
                    out.issued += points
                    activity(at)
            elif entry.kind == "redeem":
                if available >= -entry.delta:
                    available += entry.delta
                    out.redeemed -= entry.delta
                    activity(at)
            elif entry.kind == "adjust":
                if available + entry.delta >= 0:
                    available += entry.delta
            elif entry.kind == "reverse":
                take(-entry.delta, entry.bucket)
        elif kind == _REVIEW:
            plan_review(_refresh(tier, spend.at(at, prog.currency, prog.tier_period), prog, at))

    lapse_before(end)
    out.pending, out.available = pending, available
    out.revenue = sum((o.facts.net_at(end) * o.fx_rate for o in orders.values()  # in the program currency
                       if o.facts.paid_at >= start and o.fx_rate is not None), Decimal(0))
    final = tiers.standing(tier.stored, tier.since, spend.at(end, prog.currency, prog.tier_period), prog.tiers, end,
                          period=prog.tier_period)
    out.tiers[final.tier.name] += 1
    return out


def simulate(customers: list[CustomerFacts], programs: list[Program], versions: Versions, start: datetime,
             end: datetime) -> list[Totals]:
    """The period under each program, added up over the customers (their tier warmed up once)."""
    totals = [Totals() for _ in programs]
    for customer in customers:
        at_start = warm_up(customer, versions, start)
        for total, prog in zip(totals, programs, strict=True):
            total.add(replay(customer, prog, versions, start, end, at_start))
    return totals


@dataclass(frozen=True)
class Outcome:
    """One side of a comparison: the replay's totals in money and against the ceiling and the band."""
    totals: Totals
    effective_cashback: Decimal  # points issued × point value / net revenue
    liability: Decimal  # (pending + available) × point value at the end
    reward_cost: Decimal  # points issued × the period's observed redemption rate × point value
    within_ceiling: bool
    within_band: bool
    tiers: list[tuple[str, int]]  # every tier of the program, lowest first


def redemption_rate(redeemed: int, earned: int) -> Decimal:
    """The share of the points earned in the period that customers redeemed in it (the ledger's)."""
    return Decimal(redeemed) / Decimal(earned) if earned > 0 else Decimal(0)


def outcome(totals: Totals, prog: Program, rate: Decimal) -> Outcome:
    cashback = (Decimal(totals.issued) * prog.point_value / totals.revenue if totals.revenue > 0 else Decimal(0))
    return Outcome(
        totals=totals, effective_cashback=cashback,
        liability=Decimal(totals.pending + totals.available) * prog.point_value,
        reward_cost=Decimal(totals.issued) * rate * prog.point_value,
        # What configureProgram checks (the program's top rate), and what the period actually paid out.
        within_ceiling=prog.effective_cashback <= prog.cashback_ceiling and cashback <= prog.cashback_ceiling,
        within_band=BAND[0] <= cashback <= BAND[1],
        tiers=[(t.name, totals.tiers.get(t.name, 0)) for t in prog.tiers],
    )
