"""Points and store credit changed by hand (admin): one customer, or a batch of thousands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.points import SOURCE
from services.points.loyalty import accounts, configuration, ledger, posting, store, wallet
from services.points.loyalty.ledger import Entry
from shared import events, outbox
from shared.db import Connection, transaction
from shared.errors import Conflict, FlywheelError, InsufficientPoints


async def adjust_points(pool: asyncpg.Pool, shop: str, customer_id: str, delta: int, reason: str,
                        idempotency_key: str) -> accounts.AccountView:
    """Add or remove points (idempotent on the key); answers the account as it is after."""
    entry = ledger.adjustment_entry(customer_id, delta, reason, idempotency_key, actor="admin")
    async with transaction(pool) as conn:
        acct, _ = await posting.post(conn, shop, entry)
        return await accounts.view(conn, shop, entry.customer_id, acct)


async def adjust_store_credit(pool: asyncpg.Pool, shop: str, customer_id: str, amount: str, reason: str,
                              idempotency_key: str) -> asyncpg.Record:
    """Grant (positive) or withdraw (negative) store credit (idempotent on the key); answers the wallet."""
    async with transaction(pool) as conn:
        prog = await configuration.seeded(conn, shop)
        entry = wallet.adjustment(customer_id, amount, prog.currency, reason, idempotency_key)
        acct, _ = await posting.post_credit(conn, shop, entry)
        return acct


@dataclass(frozen=True)
class BulkOutcome:
    applied: int
    already_applied: int
    errors: list[tuple[int, str | None, FlywheelError]]  # (row index, customer id when known, error), by index


async def bulk_adjust(pool: asyncpg.Pool, shop: str, batch_key: str, rows: list[tuple[str, int, str]]
                      ) -> BulkOutcome:
    """Adjust many customers' points in one transaction; a bad row is reported and the others apply."""
    entries = ledger.bulk_entries(batch_key, rows)
    async with transaction(pool) as conn:
        return await _apply(conn, shop, entries)


async def _apply(conn: Connection, shop: str, entries: Sequence[Entry | FlywheelError]) -> BulkOutcome:
    """The same rules as `posting.post`, row by row in order (a seen key is skipped or conflicts, no
    balance goes negative), but with a handful of statements for the whole batch instead of several
    per row."""
    errors: list[tuple[int, str | None, FlywheelError]] = []
    good = [(i, e) for i, e in enumerate(entries) if isinstance(e, Entry)]
    errors += [(i, None, e) for i, e in enumerate(entries) if isinstance(e, FlywheelError)]
    balances = await store.ledger.lock_balances(conn, shop, sorted({e.customer_id for _, e in good}))
    seen = await store.ledger.entries_by_keys(conn, shop, [e.idempotency_key for _, e in good])
    accepted: list[Entry] = []
    skipped = 0
    for i, e in good:
        before = seen.get(e.idempotency_key)
        if before is not None:
            if before["customer_id"] != e.customer_id or before["delta"] != e.delta:
                errors.append((i, e.customer_id, Conflict("this row was already applied with other values")))
            else:
                skipped += 1
            continue
        if balances[e.customer_id] + e.delta < 0:
            errors.append((i, e.customer_id, InsufficientPoints(
                f"balance {balances[e.customer_id]} is too low for {e.delta}", balance=balances[e.customer_id])))
            continue
        balances[e.customer_id] += e.delta
        accepted.append(e)
    await store.ledger.insert_adjustments(conn, shop, [e.customer_id for e in accepted], [e.delta for e in accepted],
                                          [e.reason for e in accepted], [e.idempotency_key for e in accepted])
    sums: dict[str, tuple[int, int]] = {}
    for e in accepted:
        move = ledger.moves(e)
        b, life = sums.get(e.customer_id, (0, 0))
        sums[e.customer_id] = (b + move.balance, life + move.lifetime_earned)
    await store.ledger.add_to_sums(conn, shop, list(sums), [v[0] for v in sums.values()],
                                   [v[1] for v in sums.values()])
    await outbox.add_many(conn, [
        events.PointsEarned(shop=shop, customer_id=e.customer_id, points=e.delta, balance=balances[e.customer_id],
                            reason=e.reason, source_id=e.idempotency_key, origin=ledger.origin(e.idempotency_key))
        for e in accepted if e.delta > 0
    ], source=SOURCE)
    errors.sort(key=lambda x: x[0])
    return BulkOutcome(len(accepted), skipped, errors)
