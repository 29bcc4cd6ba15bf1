"""Segments and the negative engagement score (docs/domain.md, "Segments"), as pure rules over a
customer's facts. The thresholds are a shop's configuration; the defaults are docs/domain.md's."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.errors import BadUserInput

SEGMENTS = ("PROSPECT", "NEW", "REGULAR", "VIP", "OCCASIONAL", "AT_RISK", "CHURNED")


@dataclass(frozen=True)
class SegmentRules:
    new_days: int = 30                  # NEW: first purchase in the last 30 days
    regular_days: int = 90              # REGULAR: more than 2 purchases in the last 90 days
    regular_min_orders: int = 3
    vip_min_orders: int = 4             # VIP: more than 3 purchases in the last 90 days (vip_days),
    vip_min_aov: Decimal = Decimal(100)  # their AOV over 100,
    vip_min_open_percent: int = 50      # at least 50 % of the emails of the last 90 days opened
    vip_email_days: int = 90
    at_risk_days: int = 90              # AT_RISK: purchase history, none in the last 90 days
    churned_days: int = 365             # CHURNED: none in the last 365 days
    visit_days: int = 30                # engagement: -10 without a site visit in 30 days,
    email_days: int = 30                # -5 per discount email of the last 30 days never opened,
    purchase_gap_days: int = 60         # -30 without a purchase in 60 days (the win-back trigger)
    engagement_threshold: int = -15     # crossing it (at or below) starts win-back (customer.disengaged)
    predicted_at_risk_below: float = 0.0  # a repeat buyer's predicted probability active below: AT_RISK (0: off)
    vip_days: int = 90                  # VIP's window for purchases and their AOV
    active_window_days: int = 365       # active at t: a counting order in [t - this, t) (metrics, RFM)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SegmentRules:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (data or {}).items() if k in known}
        if "vip_min_aov" in values:
            values["vip_min_aov"] = Decimal(str(values["vip_min_aov"]))
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {f.name: str(v) if isinstance(v := getattr(self, f.name), Decimal) else v for f in fields(self)}

    def changed(self, **changes: Any) -> SegmentRules:
        """These rules with some values replaced, validated as a whole."""
        rules = replace(self, **{k: v for k, v in changes.items() if v is not None})
        for name in ("new_days", "regular_days", "vip_email_days", "at_risk_days", "churned_days",
                     "visit_days", "email_days", "purchase_gap_days", "vip_days", "active_window_days"):
            if not 1 <= getattr(rules, name) <= 3660:
                raise BadUserInput(f"{name} must be between 1 and 3660 days", field=name)
        for name in ("regular_min_orders", "vip_min_orders"):
            if not 1 <= getattr(rules, name) <= 10_000:
                raise BadUserInput(f"{name} must be between 1 and 10000", field=name)
        if not 0 <= rules.vip_min_open_percent <= 100:
            raise BadUserInput("vipMinOpenPercent must be between 0 and 100", field="vip_min_open_percent")
        if not -1000 <= rules.engagement_threshold <= 0:
            raise BadUserInput("engagementThreshold must be between -1000 and 0", field="engagement_threshold")
        if not 0 <= rules.predicted_at_risk_below <= 1:
            raise BadUserInput("predictedAtRiskBelow must be between 0 (off) and 1", field="predicted_at_risk_below")
        if rules.at_risk_days >= rules.churned_days:
            raise BadUserInput("atRiskDays must be shorter than churnedDays", field="at_risk_days")
        return rules


@dataclass(frozen=True)
class Facts:
    """What the rules look at, as of `now`. Orders are counting orders (PAID, SHIPPED, DELIVERED)."""
    orders_count: int = 0
    total_spent: Decimal = Decimal(0)
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    orders_recent: int = 0        # within regular_days
    orders_vip: int = 0           # within vip_days
    spent_vip: Decimal = Decimal(0)  # their net amount
    emails_sent_vip: int = 0      # within vip_email_days
    emails_opened_vip: int = 0
    offers_ignored: int = 0       # discount emails sent within email_days and never opened or clicked
    visited_recent: bool = False  # a site visit within visit_days
    probability_active: float | None = None  # predicted (predicting.py); None without a prediction


def predicted_at_risk(f: Facts, rules: SegmentRules) -> bool:
    """The predicted at-risk rule (off unless the merchant sets a threshold): a repeat buyer whose
    probability of still being active fell below it. BG/NBD gives one-time buyers 1, so they never match."""
    return (rules.predicted_at_risk_below > 0 and f.probability_active is not None and f.orders_count >= 2
            and f.probability_active < rules.predicted_at_risk_below)


def engagement_score(f: Facts, rules: SegmentRules, now: datetime) -> int:
    score = -5 * f.offers_ignored
    if not f.visited_recent:
        score -= 10
    if f.last_order_at is None or now - f.last_order_at > timedelta(days=rules.purchase_gap_days):
        score -= 30
    return score


def _opens_enough(f: Facts, rules: SegmentRules) -> bool:
    # With no marketing email sent in the window there is no open rate to fall short of: the condition
    # holds. A VIP who gave no email consent (or whom the shop never mailed) is judged on purchases
    # alone; the condition is there to keep disengaged buyers out, and no mail is no sign of that.
    if f.emails_sent_vip == 0:
        return True
    return min(f.emails_opened_vip, f.emails_sent_vip) * 100 >= rules.vip_min_open_percent * f.emails_sent_vip


def is_vip(f: Facts, rules: SegmentRules) -> bool:
    """More than 3 purchases in the last 90 days, their AOV over 100, and at least half the marketing
    emails of the last 90 days opened (docs/domain.md, Segments)."""
    return (f.orders_vip >= rules.vip_min_orders and f.spent_vip > rules.vip_min_aov * f.orders_vip
            and _opens_enough(f, rules))


def segment(f: Facts, rules: SegmentRules, now: datetime) -> str:
    """The first rule that holds, in this order:
    PROSPECT   no counting order;
    CHURNED    none in the last 365 days (a refinement of at risk: gone for the active window);
    AT_RISK    purchase history, none in the last 90 days;
    VIP        > 3 purchases in the last 90 days, their AOV > 100, ≥ 50 % of the marketing emails opened;
    REGULAR    > 2 purchases in the last 90 days;
    NEW        first purchase in the last 30 days;
    AT_RISK    a repeat buyer whose predicted probability active is below the merchant's threshold
               (predictedAtRiskBelow; 0, the default, switches it off);
    OCCASIONAL the gap the product brief's rules leave: bought in the last 90 days, but the first
               purchase is older than 30 days and there are fewer than 3 purchases in the 90 days.
    The engagement score decides no segment: crossing its threshold starts win-back (crossed())."""
    if f.orders_count == 0 or f.last_order_at is None or f.first_order_at is None:
        return "PROSPECT"
    idle = now - f.last_order_at
    if idle > timedelta(days=rules.churned_days):
        return "CHURNED"
    if idle > timedelta(days=rules.at_risk_days):
        return "AT_RISK"
    if is_vip(f, rules):
        return "VIP"
    if f.orders_recent >= rules.regular_min_orders:
        return "REGULAR"
    if now - f.first_order_at <= timedelta(days=rules.new_days):
        return "NEW"
    if predicted_at_risk(f, rules):
        return "AT_RISK"
    return "OCCASIONAL"


def crossed(before: int | None, after: int, f: Facts, rules: SegmentRules) -> bool:
    """The engagement score fell to or below the threshold (from above it, or from no score yet) for a
    customer with purchase history: win-back starts (customer.disengaged). A customer who stays below
    it does not start it again; one who rises above it and falls again does."""
    if f.last_order_at is None or f.orders_count == 0:
        return False
    was_above = before is None or before > rules.engagement_threshold
    return was_above and after <= rules.engagement_threshold
