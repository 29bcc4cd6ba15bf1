"""Earning rules and ledger entries in the domain's words. Pure: no I/O.

The walking skeleton ships the default earn rule (1 point per whole currency unit of the net
amount, tier multiplier 1) and makes points available at once; pending points, tiers and rule
versions arrive with the points program.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from shared.errors import BadUserInput
from shared.ids import external_id

DEFAULT_EARN_RATE = Decimal(1)  # points per whole currency unit of net spend
MAX_ADJUSTMENT = 10_000_000
REASON_MAX = 500


@dataclass(frozen=True)
class Entry:
    customer_id: str
    kind: str  # earn | adjust | redeem | reverse | expire | release
    delta: int
    reason: str
    idempotency_key: str
    actor: str
    source_event_id: str | None = None
    rule_version: int | None = None


def points_for_purchase(net_amount: Decimal, earn_rate: Decimal = DEFAULT_EARN_RATE,
                        multiplier: Decimal = Decimal(1)) -> int:
    """Whole points only, always rounded down: the shop never gives away a fraction it did not earn."""
    if net_amount <= 0:
        return 0
    return int((net_amount * earn_rate * multiplier).to_integral_value(rounding=ROUND_FLOOR))


def purchase_entry(customer_id: str, order_id: str, net_amount: Decimal, event_id: str) -> Entry | None:
    points = points_for_purchase(net_amount)
    if points == 0:
        return None
    return Entry(customer_id=customer_id, kind="earn", delta=points, reason=f"purchase {order_id}",
                 idempotency_key=f"order:{order_id}:earn", actor="system", source_event_id=event_id,
                 rule_version=1)


def adjustment_entry(customer_id: str, delta: int, reason: str, idempotency_key: str, actor: str) -> Entry:
    if delta == 0 or abs(delta) > MAX_ADJUSTMENT:
        raise BadUserInput(f"delta must be non-zero and at most {MAX_ADJUSTMENT} in size", field="delta")
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise BadUserInput(f"reason must be 1–{REASON_MAX} characters", field="reason")
    key = external_id(idempotency_key, "idempotencyKey")
    return Entry(customer_id=customer_id, kind="adjust", delta=delta, reason=reason,
                 idempotency_key=f"adjust:{key}", actor=actor)
