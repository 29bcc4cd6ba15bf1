"""The shop's referral program: the friend's offer (percent, minimum order, days valid: the one place
a merchant sets them; the points service issues the offer on these terms), rewards, windows, caps.
Validated here; pure (a program is the mapping store.programs.of_shop reads)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.errors import BadUserInput
from shared.money import currency_code, parse_amount

# The amounts of a program change, with the input field named in an error.
AMOUNTS = {"minimum_order": "minimumOrder", "reward_amount": "rewardAmount",
           "ambassador_reward_amount": "ambassadorRewardAmount"}


@dataclass(frozen=True)
class Reward:
    kind: str  # "credit" | "points"
    amount: Decimal | None
    points: int | None


def is_ambassador(program: Mapping[str, Any], conversions: int) -> bool:
    """Ambassadors have at least the program's threshold of conversions."""
    return bool(conversions >= program["ambassador_threshold"])


def reward_for(program: Mapping[str, Any], *, conversions_so_far: int) -> Reward:
    """Ambassadors (at least `ambassador_threshold` conversions before this one) earn the higher reward."""
    ambassador = is_ambassador(program, conversions_so_far)
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
    exponent = days.as_tuple().exponent
    if not days.is_finite() or isinstance(exponent, str) or -exponent > 2:
        raise BadUserInput("returnWindowDays takes at most two decimals", field="returnWindowDays")
    return days


def changes(given: Mapping[str, Any], current_currency: str) -> dict[str, Any]:
    """A merchant's change (absent fields are None; amounts and the window as typed), parsed —
    amounts in the currency the program will have — and checked; return the columns to set."""
    currency = currency_code(given["currency"]) if given.get("currency") is not None else current_currency
    window = given.get("return_window_days")
    parsed = {**given, "currency": given.get("currency") and currency,
              "return_window_days": None if window is None else parse_days(window)}
    for name, field in AMOUNTS.items():
        value = given.get(name)
        parsed[name] = None if value is None else parse_amount(value, field, currency)
    return check(parsed)


def check(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse values a merchant could not mean; return the changes to store."""
    bounds = {
        "friend_discount_percent": (1, 100), "friend_offer_valid_days": (1, 730), "reward_points": (0, 1_000_000),
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
