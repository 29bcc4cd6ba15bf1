"""The event catalog: CloudEvents 1.0 envelope plus typed, versioned payloads.

Routing key = event type (`order.paid`). A payload's version travels in the `dataversion`
extension attribute; adding an optional field keeps the version, removing or renaming one makes a
new version registered beside the old one, so consumers of both can coexist during a rollout.
Money is a Decimal serialised as a string; never a float.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar

from opentelemetry import propagate
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class PoisonMessage(Exception):
    """A message that can never be handled (malformed, unknown type or version): dead-letter it."""


class EventData(BaseModel):
    """Base of every payload. `shop` is in every event: all data is per shop."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    type: ClassVar[str]
    version: ClassVar[int]

    shop: str = Field(min_length=1, max_length=64)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str
    type: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataversion: int = 1
    shop: str
    traceparent: str | None = None
    tracestate: str | None = None
    data: dict[str, Any]

    def payload(self) -> EventData:
        model = CATALOG.get((self.type, self.dataversion))
        if model is None:
            raise PoisonMessage(f"unknown event {self.type} v{self.dataversion}")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise PoisonMessage(f"invalid {self.type} v{self.dataversion}: {exc}") from exc


CATALOG: dict[tuple[str, int], type[EventData]] = {}


E = TypeVar("E", bound=EventData)


def event(type_: str, version: int = 1) -> Callable[[type[E]], type[E]]:
    def register(cls: type[E]) -> type[E]:
        if (type_, version) in CATALOG:
            raise RuntimeError(f"event {type_} v{version} registered twice")
        cls.type, cls.version = type_, version
        CATALOG[(type_, version)] = cls
        return cls

    return register


def new_envelope(data: EventData, *, source: str, event_id: str | None = None) -> Envelope:
    """Wrap a payload, stamping the current trace context so the consumer joins the trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source=f"flywheel/{source}",
        type=data.type,
        time=datetime.now(UTC),
        dataversion=data.version,
        shop=data.shop,
        traceparent=carrier.get("traceparent"),
        tracestate=carrier.get("tracestate"),
        data=data.model_dump(mode="json"),
    )


def parse_envelope(body: bytes) -> Envelope:
    try:
        return Envelope.model_validate_json(body)
    except ValidationError as exc:
        raise PoisonMessage(f"not a Flywheel CloudEvent: {exc.errors()[:3]}") from exc


# ---- customers ---------------------------------------------------------------------------


class CustomerProfile(EventData):
    customer_id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    locale: str = "en"
    timezone: str | None = None
    birthday: date | None = None
    accepts_email: bool = False
    accepts_sms: bool = False
    accepts_whatsapp: bool = False
    # Optional, same version: the E.164 phone the platform sent (upsertCustomer), so SMS and WhatsApp
    # can reach a customer who agreed to them. None from older senders.
    phone: str | None = None


@event("customer.registered")
class CustomerRegistered(CustomerProfile):
    referral_code: str | None = None  # the code the customer signed up with, if any
    device_id: str | None = None


@event("customer.updated")
class CustomerUpdated(CustomerProfile):
    """The profile after a change (same fields as at registration)."""


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True)
    product_id: str
    quantity: int
    unit_price: Decimal


class OrderEvent(EventData):
    order_id: str
    customer_id: str
    currency: str
    total: Decimal
    net_amount: Decimal  # total - shipping - tax - refunded: what earns points
    placed_at: datetime


@event("order.placed")
class OrderPlaced(OrderEvent):
    lines: list[OrderLine] = []
    referral_code: str | None = None
    discount_codes: list[str] = []
    # Optional, same version: the order's shipping and discount totals (what a free-shipping code
    # saved; at most what a code's discount can have been). None from senders that do not know them.
    shipping_total: Decimal | None = None
    discount_total: Decimal | None = None
    shipping_address_hash: str | None = None
    payment_fingerprint: str | None = None
    device_id: str | None = None


@event("order.paid")
class OrderPaid(OrderEvent):
    referral_code: str | None = None


@event("order.shipped")
class OrderShipped(OrderEvent):
    """The order left the warehouse."""


@event("order.delivered")
class OrderDelivered(OrderEvent):
    lines: list[OrderLine] = []
    # Optional, same version: when the order was delivered (the platform's time, else when the
    # customers service recorded it). Timings counted from the delivery (D+7, D+21, D+28, the return
    # window) start here, not when the event is handled. None from older senders: the event's time.
    delivered_at: datetime | None = None


@event("order.cancelled")
class OrderCancelled(OrderEvent):
    """The order will not be fulfilled; whatever it earned is taken back."""


@event("order.refunded")
class OrderRefunded(OrderEvent):
    refunded_amount: Decimal  # cumulative refunded so far
    fully_refunded: bool


@event("customer.segment_changed")
class CustomerSegmentChanged(EventData):
    customer_id: str
    from_segment: str | None  # PROSPECT NEW REGULAR VIP OCCASIONAL AT_RISK CHURNED
    to_segment: str


@event("customer.disengaged")
class CustomerDisengaged(EventData):
    """The customer's negative engagement score crossed the shop's threshold (default -15): win-back
    starts. Only for customers with purchase history; `last_order_at` names the lapse it belongs to
    (one win-back start per last purchase)."""
    customer_id: str
    score: int
    threshold: int
    last_order_at: datetime


@event("customer.birthday")
class CustomerBirthday(EventData):
    """Sent on the day, in the customer's local morning; once per customer and year."""
    customer_id: str
    year: int


@event("customer.erased")
class CustomerErased(EventData):
    """GDPR erasure: every service forgets the person, keeping anonymous aggregates and sums."""
    customer_id: str


# ---- points ------------------------------------------------------------------------------


@event("points.earned")
class PointsEarned(EventData):
    customer_id: str
    points: int
    balance: int
    reason: str
    source_id: str
    pending: bool = False  # True: earned but still inside the return window
    # What earned them: purchase | review | referral | signup | birthday | challenge | adjustment |
    # other. Flows tell them apart by it (a referral reward has a mail of its own).
    origin: str = "other"


@event("points.reversed")
class PointsReversed(EventData):
    """Points taken back (refund, cancellation). `shortfall` could not be taken because it was
    already spent; it is netted against future earnings."""
    customer_id: str
    points: int
    shortfall: int = 0
    balance: int
    reason: str
    source_id: str


@event("points.expiring")
class PointsExpiring(EventData):
    customer_id: str
    points: int
    expires_at: datetime


@event("points.expired")
class PointsExpired(EventData):
    customer_id: str
    points: int
    balance: int


@event("tier.changed")
class TierChanged(EventData):
    customer_id: str
    from_tier: str | None
    to_tier: str  # the tier that applies now (an admin override while it lasts), as LoyaltyAccount.tier
    direction: str  # "up" | "down" (from no tier at all: "up")
    # Optional, same version: None when spend moved the tier; "initial" for the first tier a customer
    # is given, "override_started" / "override_ended" for an admin override's start and end.
    reason: Literal["initial", "override_started", "override_ended"] | None = None


@event("tier.near")
class TierNear(EventData):
    customer_id: str
    next_tier: str
    amount_to_next: Decimal
    currency: str


@event("reward.redeemed")
class RewardRedeemed(EventData):
    customer_id: str
    redemption_id: str
    reward_id: str
    reward_name: str
    kind: str  # FIXED_AMOUNT PERCENTAGE FREE_SHIPPING FREE_PRODUCT STORE_CREDIT
    code: str
    points_spent: int
    value: Decimal | None = None
    currency: str | None = None
    expires_at: datetime | None = None


@event("credit.granted")
class CreditGranted(EventData):
    customer_id: str
    amount: Decimal
    currency: str
    balance: Decimal
    reason: str  # the ledger's words, e.g. "review of p-mug", "referral r-1"
    source_id: str
    origin: str = "other"  # what granted it, as PointsEarned.origin


@event("credit.spent")
class CreditSpent(EventData):
    customer_id: str
    amount: Decimal
    currency: str
    balance: Decimal
    source_id: str


@event("challenge.launched")
class ChallengeLaunched(EventData):
    challenge_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    audience: str | None = None
    reward_points: int
    audience_tier: str | None = None  # a tier name: only customers currently in that tier


@event("challenge.completed")
class ChallengeCompleted(EventData):
    challenge_id: str
    customer_id: str
    title: str
    reward_points: int
    badge: str | None = None


# ---- offers (owned by points; any service may ask for one) -------------------------------
# Sources: REWARD REFERRAL WINBACK AT_RISK BIRTHDAY PUNCH_CARD TIER_PERK CHALLENGE STORE_CREDIT MANUAL
# Kinds:   FIXED_AMOUNT PERCENTAGE FREE_SHIPPING FREE_PRODUCT STORE_CREDIT


class OfferFacts(EventData):
    """What an issued offer is: enough for a message to render it and a platform to create it."""
    offer_id: str
    key: str  # the natural key it was issued under
    code: str
    source: str
    kind: str
    value: Decimal | None = None  # an amount in `currency`, or a percentage (10 = 10 %)
    currency: str | None = None
    min_order: Decimal | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    customer_id: str | None = None  # None: shareable
    usage_limit: int = 1


@event("offer.requested")
class OfferRequested(EventData):
    """A service asks points for an offer. One offer per `key` (e.g. "winback:<customer>:<series>:120"):
    asking again changes nothing and announces the same offer again. Fields left out take the
    program's default for the source. `context` comes back unchanged on offer.issued/offer.refused,
    so the requester can find what waits for the offer (a planned message, say)."""
    key: str = Field(min_length=1, max_length=200)
    source: str
    customer_id: str | None = None
    kind: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    min_order: Decimal | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    valid_days: int | None = None
    usage_limit: int | None = None
    code: str | None = None  # keep this code (an offer carried over from an older mechanism)
    context: dict[str, str] = {}


@event("offer.issued")
class OfferIssued(OfferFacts):
    context: dict[str, str] = {}


@event("offer.refused")
class OfferRefused(EventData):
    """The request could not be honoured (e.g. a value over the program's limits): nothing was issued,
    and whatever promised the offer must not go out."""
    key: str
    source: str
    customer_id: str | None = None
    reason: str
    context: dict[str, str] = {}


@event("offer.redeemed")
class OfferRedeemed(OfferFacts):
    order_id: str
    discount: Decimal
    exhausted: bool  # no use left: a platform copy of the code must stop working too


@event("offer.released")
class OfferReleased(OfferFacts):
    """A redemption given back (checkout abandoned, order cancelled or refunded before use)."""
    order_id: str
    reason: str
    usable: bool  # the code works again (False when it has expired meanwhile)


@event("offer.revoked")
class OfferRevoked(OfferFacts):
    reason: str


# ---- referrals ---------------------------------------------------------------------------


@event("referral.signed_up")
class ReferralSignedUp(EventData):
    referral_id: str
    referrer_id: str
    friend_id: str
    code: str


@event("referral.converted")
class ReferralConverted(EventData):
    """The friend's first order passed its return window: reward the referrer."""
    referral_id: str
    referrer_id: str
    friend_id: str
    order_id: str
    reward_kind: str  # "credit" | "points"
    reward_amount: Decimal | None = None
    reward_points: int | None = None
    currency: str | None = None


@event("referral.rejected")
class ReferralRejected(EventData):
    referral_id: str
    referrer_id: str
    friend_id: str | None = None
    reason: str  # SELF_REFERRAL SAME_EMAIL SAME_ADDRESS SAME_PAYMENT SAME_DEVICE NOT_NEW VELOCITY MONTHLY_CAP


@event("referral.reversed")
class ReferralReversed(EventData):
    referral_id: str
    referrer_id: str
    friend_id: str
    order_id: str


# ---- reviews -----------------------------------------------------------------------------


class ReviewEvent(EventData):
    review_id: str
    customer_id: str
    product_id: str
    rating: int
    has_media: bool = False


@event("review.submitted")
class ReviewSubmitted(ReviewEvent):
    """A new or edited review, waiting for moderation."""


@event("review.published")
class ReviewPublished(ReviewEvent):
    verified_buyer: bool = False


@event("review.rejected")
class ReviewRejected(ReviewEvent):
    reason: str


@event("review.rewarded")
class ReviewRewarded(EventData):
    """Points (or store credit) were granted for a published review: the reviews service marks the review
    incentivized. Sent by points, once per customer and product (the reward's natural key)."""
    review_id: str
    customer_id: str
    product_id: str
    points: int = 0
    credit: Decimal | None = None
    currency: str | None = None


@event("review.requested")
class ReviewRequested(EventData):
    """Due D+7 after delivery for a product not yet reviewed; notifications sends the request."""
    customer_id: str
    product_id: str
    order_id: str


@event("ugc.submitted")
class UgcSubmitted(EventData):
    review_id: str
    customer_id: str
    product_id: str
    media_count: int
    hashtags: list[str] = []
    challenge_id: str | None = None


# ---- notifications -----------------------------------------------------------------------


class NotificationEvent(EventData):
    notification_id: str
    customer_id: str
    channel: str
    template: str


@event("notification.sent")
class NotificationSent(NotificationEvent):
    """The channel accepted the message."""
    # The message carried a discount or gift (win-back incentives, the birthday offer): the engagement
    # score (docs/domain.md, Segments) takes 5 points for each such email left unopened. Optional, so
    # older senders stay valid.
    offer: bool = False


@event("notification.failed")
class NotificationFailed(NotificationEvent):
    reason: str


@event("notification.opened")
class NotificationOpened(NotificationEvent):
    """The open pixel was loaded (first time only)."""


@event("notification.clicked")
class NotificationClicked(NotificationEvent):
    url: str
