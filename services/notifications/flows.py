"""Flows as data: which event starts which messages, when, on which channel, with which template,
which offer a step carries, and which newer events make a planned message obsolete.

The shipped flows below are the automation map (docs/domain.md, Notifications); a shop overrides them in the
`flow_overrides` table (enabled, a step's delay or template) and `effective()` merges the two.
Everything here is pure, so the rules are unit-tested without servers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

DAY = timedelta(days=1)
# A step whose due time had already passed when its event was handled (a backfilled order, a delivery
# reported late, a backlog) goes at once if it became due at most this long ago; an older one is not
# sent at all (logged CANCELLED with the reason), so a late event never sends a whole series at once.
LATE_GRACE = timedelta(hours=24)
CHANNELS = ("EMAIL", "SMS", "WHATSAPP", "WEBHOOK")
ORDER_DELAY = "admin.order_delay"  # not a bus event: the notifyOrderDelay mutation starts it
MAX_DELAY = timedelta(days=400)


OFFER_KEY_MAX = 200  # events.OfferRequested.key


@dataclass(frozen=True)
class OfferAsk:
    """The offer a step asks the points service for when it comes due (offer.requested). Only the
    source (and a win-back step's day) is named here: kind, value, minimum order and lifetime are the
    points program's defaults for that source (configureProgram, offers.defaults), the one place a
    merchant sets them."""
    source: str  # WINBACK AT_RISK BIRTHDAY
    step: int | None = None  # WINBACK: the day of the series whose default applies (120, 135)
    from_event: bool = False  # valid from the triggering event's time (the birthday), else from issue


@dataclass(frozen=True)
class Step:
    key: str
    template: str
    delay: timedelta = timedelta(0)
    channels: tuple[str, ...] = ("EMAIL",)  # the first one the customer may receive is used
    variables: dict[str, Any] = field(default_factory=dict)  # fixed values for the template
    offer: bool = False  # carries a discount or gift: never sent without it; unopened, it lowers engagement
    asks: OfferAsk | None = None  # the offer is asked for when the step is due (else it comes with the event)


@dataclass(frozen=True)
class Condition:
    """`data[field] <op> value` on the triggering event."""
    field: str
    op: str  # "eq" | "ne" | "in"
    value: Any

    def holds(self, data: dict[str, Any]) -> bool:
        actual: Any = data
        for part in self.field.split("."):  # "context.opened_by": a field of a mapping in the event
            actual = actual.get(part) if isinstance(actual, dict) else None
        if self.op == "eq":
            return bool(actual == self.value)
        if self.op == "ne":
            return bool(actual != self.value)
        if self.op == "in":
            return actual in self.value
        raise ValueError(f"unknown condition operator {self.op!r}")


@dataclass(frozen=True)
class CancelRule:
    """A newer `event` for the same customer cancels this flow's messages still waiting; with
    `match`, only those whose correlation equals that field of the newer event."""
    event: str
    match: str | None = None
    when: Condition | None = None  # only newer events for which this holds (a full refund, not a partial one)

    def cancels(self, data: dict[str, Any]) -> bool:
        return self.when is None or self.when.holds(data)


@dataclass(frozen=True)
class Flow:
    key: str
    trigger: str
    description: str
    steps: tuple[Step, ...]
    source: str  # the natural key of one run, formatted from the event: one send per (flow, step, customer, source)
    transactional: bool = False  # order messages: no marketing consent, caps or quiet hours needed
    conditions: tuple[Condition, ...] = ()
    customer_field: str = "customer_id"
    correlation: str | None = None  # event field stored with each message, matched by cancel rules
    cancel_on: tuple[CancelRule, ...] = ()
    enabled: bool = True
    audience: bool = False  # no customer in the event: every consenting contact of the shop

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    def applies_to(self, data: dict[str, Any]) -> bool:
        return all(c.holds(data) for c in self.conditions)

    def source_of(self, data: dict[str, Any], at: datetime) -> str:
        return self.source.format(**data, event_date=at.date().isoformat(), event_month=at.strftime("%Y-%m"))


# The events that carry when they happened in the shop (the order's placedAt, when it was delivered):
# the flows count their delays from that time (D+1 from the order, D+21/D+28 from the delivery, win-back
# from the last order) and obsolescence goes by it. Every other event happened at its own time.
HAPPENED_AT = {"order.placed": "placed_at", "order.delivered": "delivered_at"}


def happened_at(event_type: str, data: dict[str, Any], at: datetime) -> datetime:
    """When the event happened: the business time it carries (never after its own time `at`, so a
    platform clock ahead of ours plans nothing early), else `at`."""
    name = HAPPENED_AT.get(event_type)
    value = data.get(name) if name else None
    if value is None:
        return at
    happened = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return min(happened, at)


def too_late(due: datetime, now: datetime) -> bool:
    """A step due more than LATE_GRACE before `now` (when its event is handled) is not sent."""
    return due < now - LATE_GRACE


def _eq(name: str, value: Any) -> Condition:
    return Condition(name, "eq", value)


TIER_UP_REASONS = (None, "override_started")  # tier.changed reasons that congratulate (with direction up)

ORDER_GONE = (CancelRule("order.cancelled", "order_id"),
              CancelRule("order.refunded", "order_id", when=Condition("fully_refunded", "eq", True)))

DEFAULT_FLOWS: tuple[Flow, ...] = (
    Flow("order_placed", "order.placed", "Thank you and what to expect", transactional=True,
         source="{order_id}", steps=(Step("thank_you", "order_thank_you"),)),
    Flow("order_care_tips", "order.placed", "D+1 after the order: care and setup tips", source="{order_id}",
         correlation="order_id", cancel_on=ORDER_GONE,
         steps=(Step("care_tips", "care_tips", DAY),)),
    Flow("order_shipped", "order.shipped", "Tracking link and delivery window (WhatsApp when opted in)",
         transactional=True, source="{order_id}",
         steps=(Step("tracking", "order_shipped", channels=("WHATSAPP", "EMAIL")),)),
    Flow("order_delivered", "order.delivered", "Feedback, then cross-sell (D+21) and replenishment (D+28)",
         source="{order_id}", correlation="order_id", cancel_on=ORDER_GONE,
         steps=(Step("feedback", "order_delivered"), Step("cross_sell", "cross_sell", 21 * DAY),
                Step("replenishment", "replenishment", 28 * DAY))),
    Flow("review_request", "review.requested", "D+7 after delivery: review / UGC request with reward, reminder",
         source="{order_id}:{product_id}", correlation="product_id",
         cancel_on=(CancelRule("review.submitted", "product_id"),),
         steps=(Step("request", "review_request"), Step("reminder", "review_reminder", 4 * DAY))),
    # Win-back starts when the engagement score crosses the threshold (customer.disengaged: at the
    # latest 60 days without a purchase, earlier for a customer who ignores the shop): the at-risk
    # message with its offer, once per lapse. The series then goes on by the days since the purchase.
    Flow("at_risk", "customer.disengaged",
         "Win-back starts when the engagement score crosses the threshold (60 days without a purchase at the "
         "latest): at-risk message with a small offer", source="{last_order_at}",
         cancel_on=(CancelRule("order.placed"),),
         steps=(Step("at_risk", "at_risk", offer=True, asks=OfferAsk("AT_RISK")),)),
    Flow("winback", "order.placed", "No purchase since the order: win-back 90/105/120/135 days after it",
         source="{order_id}", cancel_on=(CancelRule("order.placed"),),
         steps=(Step("value_reminder", "winback_value", 90 * DAY),
                Step("content", "winback_content", 105 * DAY),
                Step("discount_10", "winback_discount", 120 * DAY, offer=True, asks=OfferAsk("WINBACK", 120)),
                Step("discount_20_survey", "winback_survey", 135 * DAY, offer=True,
                     asks=OfferAsk("WINBACK", 135)))),
    Flow("segment_at_risk", "customer.segment_changed",
         "At-risk message when the customers service moves someone to AT_RISK (off by default: the "
         "order-history win-back covers it)", enabled=False, conditions=(_eq("to_segment", "AT_RISK"),),
         source="{to_segment}:{event_month}", cancel_on=(CancelRule("order.placed"),),
         steps=(Step("at_risk", "at_risk", offer=True, asks=OfferAsk("AT_RISK")),)),
    # The birthday offer is valid from the birthday; for a tier with the birthday gift (Gold) the
    # points service issues the gift (store credit) instead, and the mail says so by the offer's kind.
    Flow("birthday", "customer.birthday", "Birthday greeting with a small offer", source="{year}",
         steps=(Step("greeting", "birthday", offer=True, asks=OfferAsk("BIRTHDAY", from_event=True)),)),
    Flow("tier_near", "tier.near", "Nudge with the gap to the next tier", source="{next_tier}:{event_month}",
         steps=(Step("nudge", "tier_near"),)),
    # Congratulations when spend lifts the tier, and when an admin lifts it (an override is a gesture
    # the customer should hear about, with the perks). Not for the first tier a customer is given (that
    # is no upgrade) nor for the end of an override (the customer goes back to the tier they earned).
    Flow("tier_up", "tier.changed", "Congratulations on a tier upgrade, with its perks",
         conditions=(_eq("direction", "up"), Condition("reason", "in", TIER_UP_REASONS)),
         source="{to_tier}:{event_date}", steps=(Step("congrats", "tier_up"),)),
    # A referral reward has its own mail (referral_reward): its points or credit send no second one.
    Flow("points_earned", "points.earned", "Balance update when points become available",
         conditions=(_eq("pending", False), Condition("origin", "ne", "referral")), source="{reason}:{source_id}",
         steps=(Step("balance", "points_earned"),)),
    Flow("points_expiring", "points.expiring", "Reminder before points expire", source="{expires_at}",
         steps=(Step("reminder", "points_expiring"),)),
    # The referred friend's own offer, asked for by the referrals service when a sign-up opened the
    # referral: the mail goes once points has issued it (the offer comes with the event). Offers
    # carried over from the older friend codes, or opened by an order, send nothing.
    Flow("referral_welcome", "offer.issued", "The referred friend's welcome with their first-order code",
         conditions=(_eq("source", "REFERRAL"), _eq("context.opened_by", "signup")), source="{key}",
         steps=(Step("welcome", "referral_welcome", offer=True),)),
    Flow("referral_reward", "referral.converted", "The referrer's reward is earned", customer_field="referrer_id",
         source="{referral_id}", steps=(Step("reward", "referral_reward"),)),
    Flow("credit", "credit.granted", "Store credit granted, later a reminder to use it", source="{reason}:{source_id}",
         conditions=(Condition("origin", "ne", "referral"),), cancel_on=(CancelRule("credit.spent"),),
         steps=(Step("granted", "credit_granted"), Step("reminder", "credit_reminder", 14 * DAY))),
    Flow("challenge_launched", "challenge.launched", "Invitation to a new community challenge", audience=True,
         source="{challenge_id}", steps=(Step("invitation", "challenge_launched"),)),
    Flow("challenge_completed", "challenge.completed", "Challenge completed: the reward", source="{challenge_id}",
         steps=(Step("reward", "challenge_completed"),)),
    Flow("order_delay", ORDER_DELAY, "Honest delay note with an alternative source or an instant refund",
         transactional=True, source="{order_id}:{message_hash}", steps=(Step("note", "order_delay"),)),
)
BY_KEY = {f.key: f for f in DEFAULT_FLOWS}


def shipped_step(flow_key: str | None, step_key: str | None) -> Step | None:
    """A planned message's step as shipped. A shop's override changes a step's delay, template or
    channels, never what it is, so whether it carries an offer, and which, is the shipped flow's."""
    flow = BY_KEY.get(flow_key or "")
    return flow.step(step_key or "") if flow is not None else None


def carries_offer(flow_key: str | None, step_key: str | None) -> bool:
    """Whether a planned message's step carries an offer (it is never sent without one)."""
    step = shipped_step(flow_key, step_key)
    return step is not None and step.offer


def offer_key(flow: Flow, step: Step, customer_id: str, source: str) -> str:
    """The natural key a step's offer is asked under, one per customer, run and step:
    "winback:<customer>:<order>:120", "birthday:<customer>:2026:greeting". The points service issues
    once per key (a second ask announces the same offer). A key that would be too long for the event
    names the customer and run by a hash instead."""
    tail = str(step.asks.step) if step.asks is not None and step.asks.step is not None else step.key
    key = f"{flow.key}:{customer_id}:{source}:{tail}"
    if len(key) <= OFFER_KEY_MAX:
        return key
    digest = hashlib.sha256(f"{customer_id}\x00{source}".encode()).hexdigest()[:32]
    return f"{flow.key}:{digest}:{tail}"


def events_used() -> set[str]:
    """The bus events a shipped flow starts or is cancelled by (the order delay is no bus event)."""
    triggers = {f.trigger for f in DEFAULT_FLOWS if f.trigger != ORDER_DELAY}
    return triggers | {r.event for f in DEFAULT_FLOWS for r in f.cancel_on}


def triggered_by(event_type: str, flows: tuple[Flow, ...]) -> list[Flow]:
    return [f for f in flows if f.trigger == event_type]


def cancelled_by(event_type: str, flows: tuple[Flow, ...]) -> list[tuple[Flow, CancelRule]]:
    return [(f, r) for f in flows for r in f.cancel_on if r.event == event_type]


def effective(flow: Flow, override: dict[str, Any] | None) -> Flow:
    """A shipped flow with a shop's override applied (unknown step keys are ignored)."""
    if not override:
        return flow
    steps = []
    for step in flow.steps:
        change = (override.get("steps") or {}).get(step.key) or {}
        if "delay_seconds" in change:
            step = replace(step, delay=timedelta(seconds=int(change["delay_seconds"])))
        if change.get("template"):
            step = replace(step, template=change["template"])
        if change.get("channels"):
            step = replace(step, channels=tuple(change["channels"]))
        steps.append(step)
    enabled = override.get("enabled")
    return replace(flow, steps=tuple(steps), enabled=flow.enabled if enabled is None else enabled)


def shop_flows(overrides: dict[str, dict[str, Any]]) -> tuple[Flow, ...]:
    return tuple(effective(f, overrides.get(f.key)) for f in DEFAULT_FLOWS)


def dedup_key(flow: Flow, step: Step, customer_id: str, source: str) -> str:
    # Hashed so the key carries no personal data once a customer is erased, and stays short.
    digest = hashlib.sha256(f"{customer_id}\x00{source}".encode()).hexdigest()[:32]
    return f"{flow.key}:{step.key}:{digest}"
