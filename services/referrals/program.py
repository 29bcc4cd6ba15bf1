"""The shop's referral program: offer, minimum order, rewards, windows, caps. Validated here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from shared.errors import BadUserInput

FIELDS = ("friend_discount_percent", "minimum_order", "reward_kind", "reward_amount", "reward_points",
          "ambassador_threshold", "ambassador_reward_amount", "ambassador_reward_points", "return_window_days",
          "signups_per_hour", "rewards_per_month", "shared_address_rejects", "currency")


@dataclass(frozen=True)
class Reward:
    kind: str  # "credit" | "points"
    amount: Decimal | None
    points: int | None


def reward_for(program: dict, *, conversions_so_far: int) -> Reward:
    """Ambassadors (at least `ambassador_threshold` conversions before this one) earn the higher reward."""
    ambassador = conversions_so_far >= program["ambassador_threshold"]
    if program["reward_kind"] == "points":
        points = program["ambassador_reward_points"] if ambassador else program["reward_points"]
        return Reward("points", None, points)
    amount = program["ambassador_reward_amount"] if ambassador else program["reward_amount"]
    return Reward("credit", amount, None)


def parse_days(value: str) -> Decimal:
    """A window in days, decimals allowed ("0.5" is twelve hours)."""
    try:
        days = Decimal(value.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise BadUserInput("returnWindowDays must be a number of days like \"14\"", field="returnWindowDays") from exc
    if not days.is_finite() or -days.as_tuple().exponent > 2:  # type: ignore[operator]
        raise BadUserInput("returnWindowDays takes at most two decimals", field="returnWindowDays")
    return days


def check(changes: dict) -> dict:
    """Refuse values a merchant could not mean; return the changes to store."""
    bounds = {
        "friend_discount_percent": (1, 100), "reward_points": (0, 1_000_000),
        "ambassador_threshold": (1, 10_000), "ambassador_reward_points": (0, 1_000_000),
        "signups_per_hour": (1, 10_000), "rewards_per_month": (1, 10_000),
    }
    for name, (low, high) in bounds.items():
        value = changes.get(name)
        if value is not None and not low <= value <= high:
            raise BadUserInput(f"{name} must be between {low} and {high}", field=name)
    window = changes.get("return_window_days")
    if window is not None and not Decimal(0) <= window <= Decimal(365):
        raise BadUserInput("returnWindowDays must be between 0 and 365", field="returnWindowDays")
    if changes.get("reward_kind") not in (None, "credit", "points"):
        raise BadUserInput("rewardKind must be CREDIT or POINTS", field="rewardKind")
    return {k: v for k, v in changes.items() if v is not None}
