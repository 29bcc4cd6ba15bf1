"""Points lapse after a period without activity (expiry.py): the reminder before the lapse and
the lapse itself, run by the scheduler inside its transaction. Posting plans both on each activity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.points import SOURCE
from services.points.loyalty import configuration, expiry, posting
from services.points.loyalty.ledger import Entry
from shared import events, outbox
from shared.db import Connection


async def _still_inactive(conn: Connection, shop: str, payload: dict[str, Any]) -> asyncpg.Record | None:
    acct = await posting.lock(conn, shop, payload["customer_id"])
    if acct["last_activity_at"] != datetime.fromisoformat(payload["activity"]) or acct["balance"] <= 0:
        return None  # activity since, or nothing left to lapse: this job is obsolete
    return acct


async def warn(conn: Connection, shop: str, payload: dict[str, Any]) -> None:
    """points.expiring: the whole balance lapses at the date it gives, unless the customer is active."""
    acct = await _still_inactive(conn, shop, payload)
    if acct is None:
        return
    prog = await configuration.seeded(conn, shop)
    await outbox.add(conn, events.PointsExpiring(
        shop=shop, customer_id=acct["customer_id"], points=acct["balance"],
        expires_at=expiry.add_months(acct["last_activity_at"], prog.expiry_months)), source=SOURCE)


async def lapse(conn: Connection, shop: str, payload: dict[str, Any]) -> None:
    """The whole balance lapses (an `expire` ledger entry) and points.expired says so."""
    acct = await _still_inactive(conn, shop, payload)
    if acct is None:
        return
    lapsing = acct["balance"]
    acct, _ = await posting.post(conn, shop, Entry(
        customer_id=acct["customer_id"], kind="expire", delta=-lapsing, reason="no activity",
        idempotency_key=f"expire:{expiry.job_key(acct['customer_id'], acct['last_activity_at'])}", actor="system"))
    await outbox.add(conn, events.PointsExpired(
        shop=shop, customer_id=acct["customer_id"], points=lapsing, balance=acct["balance"]), source=SOURCE)
