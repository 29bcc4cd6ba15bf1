"""Posting to the points ledger and the store-credit wallet, inside the caller's transaction.

Every change of a customer's points or credit starts by locking their account row (the service's
lock order: the account first). The lock is taken once per transaction: the transaction remembers
that it holds it, and later steps read the row without locking again.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import asyncpg

from services.points import SOURCE
from services.points.loyalty import configuration, expiry, ledger, store
from services.points.loyalty.ledger import Entry
from services.points.loyalty.wallet import CreditEntry
from shared import events, outbox, schedule
from shared.db import Connection, remembered
from shared.errors import BadUserInput, Conflict, InsufficientPoints


async def _nothing_held() -> set[tuple[str, str]]:
    return set()


async def hold(conn: Connection, shop: str, customer_id: str) -> asyncpg.Record | None:
    """Lock the customer's account (created when missing) unless this transaction holds it already:
    the freshly locked row, or None when it was held."""
    held = await remembered(f"points:held-accounts:{id(conn)}", _nothing_held)
    if (shop, customer_id) in held:
        return None
    row = await store.ledger.lock_account(conn, shop, customer_id)
    held.add((shop, customer_id))
    return row


async def lock(conn: Connection, shop: str, customer_id: str) -> asyncpg.Record:
    """The customer's account row as it is now, locked for the rest of the transaction."""
    row = await hold(conn, shop, customer_id) or await store.ledger.account(conn, shop, customer_id)
    if row is None:
        raise LookupError(f"account {customer_id} vanished inside its own transaction")
    return row


async def post(conn: Connection, shop: str, entry: Entry, *, announce: bool = True) -> tuple[asyncpg.Record, bool]:
    """Append an entry and move the account's sums.

    Returns (account, applied). An entry whose idempotency key was seen before is not applied
    again; the same key with a different delta is a CONFLICT. The account row is locked, so
    concurrent entries serialise and the balance check cannot be raced."""
    acct = await lock(conn, shop, entry.customer_id)
    # The entry goes in first, with its key: one statement where a look for the key and then the
    # insert were two. A key seen before writes nothing, and what was written is checked as before; a
    # balance too low raises, and the raise rolls the entry back with the caller's transaction (or
    # the event's savepoint): nothing catches it inside one.
    if not await store.ledger.insert_entry(conn, shop, **asdict(entry)):
        seen = await store.ledger.entry_by_key(conn, shop, entry.idempotency_key)
        if seen is None or seen["customer_id"] != entry.customer_id or seen["delta"] != entry.delta:
            raise Conflict("this idempotency key was already used for a different change")
        return acct, False
    move = ledger.moves(entry)
    if acct["balance"] + move.balance < 0 or acct["pending"] + move.pending < 0:
        raise InsufficientPoints(
            f"balance {acct['balance']} is too low for {entry.delta}", balance=acct["balance"]
        )
    acct = await store.ledger.move_sums(conn, shop, entry.customer_id, balance=move.balance, pending=move.pending,
                                        lifetime_earned=move.lifetime_earned, activity=ledger.is_activity(entry))
    if ledger.is_activity(entry):
        await _plan_expiry(conn, shop, entry.customer_id, acct["last_activity_at"])
    if announce and ledger.announced(entry):
        await outbox.add(conn, events.PointsEarned(
            shop=shop, customer_id=entry.customer_id, points=entry.delta, balance=acct["balance"],
            reason=entry.reason, source_id=entry.source_event_id or entry.idempotency_key,
            pending=entry.bucket == ledger.PENDING, origin=ledger.origin(entry.idempotency_key),
        ), source=SOURCE)
    return acct, True


async def _plan_expiry(conn: Connection, shop: str, customer_id: str, activity: datetime) -> None:
    """Plan the reminder and the lapse for this activity (expiring.py runs them). Jobs planned for an
    earlier activity are not cancelled (that would scan the schedule on every earning): they find
    newer activity and do nothing."""
    prog = await configuration.seeded(conn, shop)
    lapse = expiry.lapse_at(activity, prog.expiry_months)
    if lapse is None:
        return
    payload = {"customer_id": customer_id, "activity": activity.isoformat()}
    key = expiry.job_key(customer_id, activity)
    await schedule.schedule_all(conn, shop=shop, jobs=[
        schedule.Planned(expiry.WARN_JOB, key, expiry.warn_at(lapse, prog.expiry_warning), payload),
        schedule.Planned(expiry.LAPSE_JOB, key, lapse, payload)])


async def credit_available(conn: Connection, shop: str, entry: Entry) -> asyncpg.Record:
    """Post points into the available bucket, then settle any shortfall from earlier takebacks."""
    acct, applied = await post(conn, shop, entry)
    owed = ledger.net_shortfall(acct["shortfall"], entry.delta) if applied else 0
    if owed:
        await post(conn, shop, Entry(
            customer_id=entry.customer_id, kind="reverse", delta=-owed, reason="earlier takeback netted",
            idempotency_key=f"{entry.idempotency_key}:shortfall", actor="system",
            rule_version=entry.rule_version, source_event_id=entry.source_event_id))
        acct = await store.ledger.add_shortfall(conn, shop, entry.customer_id, -owed)
    return acct


async def reverse(conn: Connection, shop: str, customer_id: str, points: int, *, bucket: str, reason: str,
                  key: str, event_id: str, rule_version: int | None) -> None:
    """Take points back (a ledger `reverse` row); what was already spent becomes a shortfall, netted
    against future earnings. The caller makes sure one takeback runs once (its own state, not `key`)."""
    acct = await lock(conn, shop, customer_id)
    taken, short = ledger.split_takeback(points, acct["pending"] if bucket == ledger.PENDING else acct["balance"])
    if taken:
        acct, _ = await post(conn, shop, Entry(
            customer_id=customer_id, kind="reverse", delta=-taken, reason=reason, idempotency_key=key,
            actor="system", source_event_id=event_id, rule_version=rule_version, bucket=bucket))
    if short:
        acct = await store.ledger.add_shortfall(conn, shop, customer_id, short)
    await outbox.add(conn, events.PointsReversed(
        shop=shop, customer_id=customer_id, points=points, shortfall=short, balance=acct["balance"],
        reason=reason, source_id=event_id), source=SOURCE)


async def post_credit(conn: Connection, shop: str, entry: CreditEntry) -> tuple[asyncpg.Record, bool]:
    """Append a wallet entry and move its balance (never below zero). The points account is locked
    first (the service's lock order), then the wallet."""
    await hold(conn, shop, entry.customer_id)
    acct = await store.wallet.lock_credit_account(conn, shop, entry.customer_id, entry.currency)
    if acct["currency"] != entry.currency:
        raise BadUserInput(f"the wallet is in {acct['currency']}, not {entry.currency}", field="currency")
    seen = await store.wallet.entry_by_key(conn, shop, entry.idempotency_key)
    if seen is not None:
        if seen["customer_id"] != entry.customer_id or seen["amount"] != entry.amount:
            raise Conflict("this idempotency key was already used for a different change")
        return acct, False
    if acct["balance"] + entry.amount < 0:
        raise InsufficientPoints(f"store credit {acct['balance']} is too low for {-entry.amount}",
                                 balance=str(acct["balance"]))
    await store.wallet.insert_entry(conn, shop, **asdict(entry))
    acct = await store.wallet.move_balance(conn, shop, entry.customer_id, entry.amount)
    source_id = entry.source_event_id or entry.idempotency_key
    if entry.amount > 0:
        await outbox.add(conn, events.CreditGranted(
            shop=shop, customer_id=entry.customer_id, amount=entry.amount, currency=entry.currency,
            balance=acct["balance"], reason=entry.reason, source_id=source_id,
            origin=ledger.origin(entry.idempotency_key)), source=SOURCE)
    else:
        await outbox.add(conn, events.CreditSpent(
            shop=shop, customer_id=entry.customer_id, amount=-entry.amount, currency=entry.currency,
            balance=acct["balance"], source_id=source_id), source=SOURCE)
    return acct, True
