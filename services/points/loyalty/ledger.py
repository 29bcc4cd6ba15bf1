"""Earning rules and ledger entries in the domain's words. Pure: no I/O.

An account's sums are the ledger's sums, by construction (see `moves`): `balance` is what sits in
the available bucket, `pending` what sits in the pending bucket (earned, still inside the return
window), `lifetime_earned` what was earned and not taken back (earnings, positive adjustments,
minus reversals). Releasing points moves them between buckets and earns nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from shared.errors import BadUserInput
from shared.ids import external_id

DEFAULT_EARN_RATE = Decimal(1)  # points per whole currency unit of net spend
MAX_ADJUSTMENT = 10_000_000
REASON_MAX = 500
AVAILABLE, PENDING = "available", "pending"


# Every entry's idempotency key starts with what gave rise to it (order:…, review:…, credit:referral:…).
ORIGINS = {"order": "purchase", "review": "review", "referral": "referral", "signup": "signup",
           "birthday": "birthday", "challenge": "challenge", "adjust": "adjustment", "share": "social_share"}


def origin(idempotency_key: str) -> str:
    """What earned or granted an entry, for the events that announce it (PointsEarned.origin)."""
    return ORIGINS.get(idempotency_key.removeprefix("credit:").split(":", 1)[0], "other")


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
    bucket: str = AVAILABLE
    # A purchase in another currency than the program's: its currency, the merchant's rate and the
    # rate's date (docs/domain.md, Currencies).
    fx_currency: str | None = None
    fx_rate: Decimal | None = None
    fx_date: date | None = None


@dataclass(frozen=True)
class Moves:
    balance: int
    pending: int
    lifetime_earned: int


def moves(entry: Entry) -> Moves:
    """How one entry moves the account's sums. The invariant test recomputes the same sums in SQL."""
    lifetime = 0
    if entry.kind in ("earn", "reverse") or (entry.kind == "adjust" and entry.delta > 0):
        lifetime = entry.delta
    return Moves(balance=entry.delta if entry.bucket == AVAILABLE else 0,
                 pending=entry.delta if entry.bucket == PENDING else 0,
                 lifetime_earned=lifetime)


def is_activity(entry: Entry) -> bool:
    """Earning and redeeming keep points alive (expiry.py); other entries do not."""
    return entry.kind in ("earn", "redeem")


def announced(entry: Entry) -> bool:
    """Points arriving by earning, adjustment or release are announced (points.earned)."""
    return entry.delta > 0 and entry.kind in ("earn", "adjust", "release")


def points_for_purchase(net_amount: Decimal, earn_rate: Decimal = DEFAULT_EARN_RATE,
                        multiplier: Decimal = Decimal(1)) -> int:
    """Whole points only, always rounded down: the shop never gives away a fraction it did not earn."""
    if net_amount <= 0:
        return 0
    return int((net_amount * earn_rate * multiplier).to_integral_value(rounding=ROUND_FLOOR))


def order_points(net_amount: Decimal, fx_rate: Decimal | None, earn_rate: Decimal, multiplier: Decimal) -> int:
    """What a paid order earns: its net amount turned into the program currency at `fx_rate` (1 for the
    program's own, the merchant's rate for another: Program.rate_for), at the earn rate and the tier's
    multiplier; 0 without a rate (NOT_ELIGIBLE). The live ledger and the simulation both ask this."""
    if fx_rate is None:
        return 0
    return points_for_purchase(net_amount * fx_rate, earn_rate, multiplier)


def order_points_to_keep(net_remaining: Decimal, fx_rate: Decimal | None, earn_rate: Decimal, multiplier: Decimal,
                         *, voided: bool) -> int:
    """What a refunded or cancelled order may keep: by the rate, earn rate and multiplier it earned at (an
    order that earned without a rate keeps nothing, having earned nothing)."""
    return points_to_keep(net_remaining * (fx_rate if fx_rate is not None else Decimal(0)), earn_rate, multiplier,
                          voided=voided)


def release_at(delivered_at: datetime, pending_days: int) -> datetime:
    """When an order's pending points become available: the return window after its delivery."""
    return delivered_at + timedelta(days=pending_days)


def takeback_bucket(order_status: str) -> str:
    """Points still pending come out of the pending bucket, released ones out of the available bucket."""
    return PENDING if order_status == "PENDING" else AVAILABLE


def purchase_entry(customer_id: str, order_id: str, points: int, event_id: str, rule_version: int,
                   *, pending: bool = True, fx: tuple[str, Decimal, date] | None = None) -> Entry | None:
    """`fx`: (the order's currency, the rate, its date) when the order was converted."""
    if points <= 0:
        return None
    return Entry(customer_id=customer_id, kind="earn", delta=points, reason=f"purchase {order_id}",
                 idempotency_key=f"order:{order_id}:earn", actor="system", source_event_id=event_id,
                 rule_version=rule_version, bucket=PENDING if pending else AVAILABLE,
                 fx_currency=fx[0] if fx else None, fx_rate=fx[1] if fx else None, fx_date=fx[2] if fx else None)


def release_entries(customer_id: str, order_id: str, points: int, rule_version: int) -> list[Entry]:
    """Pending points of an order become available once its return window has passed."""
    if points <= 0:
        return []
    released = Entry(customer_id=customer_id, kind="release", delta=points, reason=f"return window passed {order_id}",
                     idempotency_key=f"order:{order_id}:release:in", actor="system", rule_version=rule_version)
    return [replace(released, delta=-points, idempotency_key=f"order:{order_id}:release:out", bucket=PENDING),
            released]


def points_to_keep(net_remaining: Decimal, earn_rate: Decimal, multiplier: Decimal, *, voided: bool) -> int:
    """What an order may still keep after refunds, by the rule version that earned it."""
    return 0 if voided else points_for_purchase(net_remaining, earn_rate, multiplier)


def takeback(earned: int, taken_back: int, keep: int) -> int:
    """Points still to take back so the order keeps no more than `keep` (never negative)."""
    return max(earned - taken_back - min(keep, earned), 0)


def split_takeback(points: int, available: int) -> tuple[int, int]:
    """(taken from the bucket, shortfall): a balance never goes negative; what was already spent is
    recorded as a shortfall and netted against future earnings."""
    taken = min(points, max(available, 0))
    return taken, points - taken


def net_shortfall(shortfall: int, incoming: int) -> int:
    """How much of incoming available points settles an outstanding shortfall."""
    return min(shortfall, max(incoming, 0))


def adjustment_entry(customer_id: str, delta: int, reason: str, idempotency_key: str, actor: str) -> Entry:
    if delta == 0 or abs(delta) > MAX_ADJUSTMENT:
        raise BadUserInput(f"delta must be non-zero and at most {MAX_ADJUSTMENT} in size", field="delta")
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise BadUserInput(f"reason must be 1–{REASON_MAX} characters", field="reason")
    key = external_id(idempotency_key, "idempotencyKey")
    return Entry(customer_id=customer_id, kind="adjust", delta=delta, reason=reason,
                 idempotency_key=f"adjust:{key}", actor=actor)


MAX_BULK_ROWS = 10_000


def bulk_entries(batch_key: str, rows: list[tuple[str, int, str]]) -> list[Entry | BadUserInput]:
    """One adjustment per row, keyed by the batch and the row's position, so sending the same batch
    again applies nothing twice; a bad row is answered with its error and does not stop the others."""
    key = external_id(batch_key, "idempotencyKey", limit=150)
    if not rows or len(rows) > MAX_BULK_ROWS:
        raise BadUserInput(f"a bulk adjustment has 1–{MAX_BULK_ROWS} rows", field="rows")
    out: list[Entry | BadUserInput] = []
    for i, (customer_id, delta, reason) in enumerate(rows):
        try:
            out.append(adjustment_entry(external_id(customer_id, "customerId"), delta, reason,
                                        f"bulk:{key}:{i}", actor="admin"))
        except BadUserInput as exc:
            out.append(exc)
    return out
