"""Issuing offers: once per natural key, announced through the outbox (offer.issued, offer.refused,
offer.revoked).

In-process sources (a reward redeemed, the punch card, store credit spent as a code, a challenge
completed) call `issue` inside their own transaction; other services ask with offer.requested
(`requested`, in the inbox's transaction); an admin issues or revokes by hand (`issue_manual`,
`revoke`, each in a transaction of its own). Asking again under a key finds the offer issued the
first time and announces it again, with the new ask's context.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.points import SOURCE
from services.points.loyalty import accounts, configuration
from services.points.offers import codes, store
from services.points.offers.terms import Ask, NewOffer, Refusal, terms
from shared import events, outbox
from shared.db import Connection, transaction
from shared.errors import Conflict, NotFound

log = logging.getLogger(__name__)


def facts(row: asyncpg.Record) -> dict[str, Any]:
    """The fields of events.OfferFacts, from an offer row."""
    return {"shop": row["shop_id"], "offer_id": row["id"], "key": row["key"], "code": row["code"],
            "source": row["source"], "kind": row["kind"], "value": row["value"], "currency": row["currency"],
            "min_order": row["min_order"], "starts_at": row["starts_at"], "expires_at": row["expires_at"],
            "customer_id": row["customer_id"], "usage_limit": row["usage_limit"]}


async def _insert(conn: Connection, shop: str, o: NewOffer) -> asyncpg.Record | None:
    return await store.insert(
        conn, shop, id=o.id, key=o.key, code=o.code, code_key=o.code_key, source=o.source, kind=o.kind,
        value=o.value, currency=o.currency, min_order=o.min_order, starts_at=o.starts_at, expires_at=o.expires_at,
        customer_id=o.customer_id, usage_limit=o.usage_limit, reward_id=o.reward_id, redemption_id=o.redemption_id)


async def issue(conn: Connection, shop: str, ask: Ask, *, trusted: bool = False,
                context: dict[str, str] | None = None) -> asyncpg.Record:
    """The offer of `ask.key` (issued now, or found), announced as offer.issued. Raises Refusal."""
    found = await store.by_key(conn, shop, ask.key)
    if found is None:
        prog = await configuration.seeded(conn, shop)
        tier = None
        if ask.source == "BIRTHDAY" and ask.customer_id is not None:
            tier = (await accounts.current_tier(conn, shop, ask.customer_id)).name
        new = terms(ask, prog.offers, currency=prog.currency, tier=tier, punch_card_percent=prog.punch_card_percent,
                    now=datetime.now(UTC), trusted=trusted)
        found = await _insert(conn, shop, new) or await store.by_key(conn, shop, ask.key)
        if found is None and ask.code is None:  # a generated code already in use: 1 in 2^80, once more
            code = codes.new_code()
            found = await _insert(conn, shop, replace(new, code=code, code_key=codes.key(code)))
        if found is None:
            raise Refusal("CODE_TAKEN", "another offer of this shop has this code", "code")
    await outbox.add(conn, events.OfferIssued(**facts(found), context=context or {}), source=SOURCE)
    return found


async def requested(conn: Connection, data: events.OfferRequested) -> None:
    """offer.requested: issue (or announce again) the offer of the key, or say why not (offer.refused)."""
    step = data.context.get("step")
    ask = Ask(key=data.key, source=data.source, customer_id=data.customer_id, kind=data.kind, value=data.value,
              currency=data.currency, min_order=data.min_order, starts_at=data.starts_at,
              expires_at=data.expires_at, valid_days=data.valid_days, usage_limit=data.usage_limit,
              code=data.code, step=int(step) if step and step.isdigit() else None)
    try:
        await issue(conn, data.shop, ask, context=data.context)
    except Refusal as refusal:
        log.info("offer %s refused: %s", data.key, refusal.message)
        await outbox.add(conn, events.OfferRefused(
            shop=data.shop, key=data.key, source=data.source, customer_id=data.customer_id,
            reason=refusal.message, context=data.context), source=SOURCE)


async def issue_manual(pool: asyncpg.Pool, shop: str, ask: Ask) -> asyncpg.Record:
    """issueOffer (admin): any configurable source, the program's limits apply. Idempotent on the key."""
    async with transaction(pool) as conn:
        return await issue(conn, shop, ask)


def manual_key(key: str | None) -> str:
    return f"manual:{key}" if key is not None else f"manual:{secrets.token_hex(8)}"


async def withdraw(conn: Connection, shop: str, row: asyncpg.Record, reason: str) -> asyncpg.Record:
    """Revoke the locked offer `row` (once) and announce it: its code stops working, here and on the
    platforms that hold a copy."""
    if row["status"] == "REVOKED":
        return await store.by_id(conn, shop, row["id"]) or row
    revoked = await store.revoke(conn, shop, row["id"], reason)
    await outbox.add(conn, events.OfferRevoked(**facts(revoked), reason=reason), source=SOURCE)
    return revoked


async def revoke(pool: asyncpg.Pool, shop: str, offer_id: str, reason: str) -> asyncpg.Record:
    """revokeOffer (admin). An offer with no use left cannot be revoked (CONFLICT)."""
    async with transaction(pool) as conn:
        if await store.by_id(conn, shop, offer_id) is None:
            raise NotFound(f"unknown offer {offer_id}", field="id")
        row = await store.lock(conn, shop, offer_id)
        if row["status"] == "REDEEMED":
            raise Conflict("this offer is used up: there is nothing left to revoke")
        return await withdraw(conn, shop, row, reason)


async def revoke_unused(conn: Connection, shop: str, key: str, reason: str) -> None:
    """Revoke the offer of `key`, if there is one and no order uses it (a challenge completion taken back)."""
    found = await store.by_key(conn, shop, key)
    if found is None:
        return
    row = await store.lock(conn, shop, found["id"])
    if row["used_count"] == 0:
        await withdraw(conn, shop, row, reason)
