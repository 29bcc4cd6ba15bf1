"""The program in force, and the merchant's changes to it: program versions and catalog rewards.

A shop's first write seeds the default program and the starter catalog (`seeded`); reads answer the
defaults without writing (`in_force`), so anonymous callers naming made-up shops in X-Shop cannot
fill the database. Either way the program is read once per transaction (shared.db.remembered) and
forgotten when the transaction saves a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import asyncpg

from services.points.loyalty import rewards, store
from services.points.loyalty.program import DEFAULT, Program, ProgramChange, apply_change
from shared.db import Connection, Executor, forget, remembered, transaction
from shared.errors import BadUserInput


def _key(shop: str) -> str:
    return f"program:{shop}"


def _program(row: asyncpg.Record | None) -> Program | None:
    return None if row is None else Program.from_json(row["version"], row["config"])


async def _stored(conn: Executor, shop: str) -> Program | None:
    async def load() -> Program | None:
        return _program(await store.programs.latest(conn, shop))
    return await remembered(_key(shop), load)


async def in_force(conn: Executor, shop: str) -> Program:
    """The program in force: the newest version, or the defaults before the shop's first write."""
    return await _stored(conn, shop) or DEFAULT


async def seeded(conn: Connection, shop: str) -> Program:
    """The program in force, after seeding a shop's first program and starter catalog: what every
    write use case reads."""
    found = await _stored(conn, shop)
    if found is not None:
        return found
    first = _program(await store.programs.insert_first(conn, shop, DEFAULT.to_json()))
    await store.rewards.add_missing(conn, shop, [(r.id, r.name, r.kind, r.points_cost, r.value)
                                                 for r in rewards.seeded(DEFAULT.currency)])
    forget(_key(shop))
    if first is None:  # another transaction seeded it first: read what it wrote
        return await in_force(conn, shop)

    async def known() -> Program | None:
        return first
    await remembered(_key(shop), known)
    return first


async def configure(pool: asyncpg.Pool, shop: str, change: ProgramChange, actor: str) -> Program:
    """Append the next version, serialised per shop so two admins cannot both write version n+1."""
    async with transaction(pool) as conn:
        await store.programs.lock_versions(conn, shop)
        nxt = apply_change(await seeded(conn, shop), change)
        await store.programs.insert_version(conn, shop, nxt.version, nxt.to_json(), actor)
        forget(_key(shop))
        return nxt


async def upsert_reward(pool: asyncpg.Pool, shop: str, *, id: str | None, name: str, kind: str, points_cost: int,
                        value: str | None, min_tier: str | None, limit_per_customer: int | None,
                        limit_total: int | None, active: bool | None) -> tuple[asyncpg.Record, str]:
    """Create (without id) or change a catalog reward, validated against the program; answers the
    stored row and the program's currency."""
    async with transaction(pool) as conn:
        prog = await seeded(conn, shop)
        r = rewards.reward(id=id, name=name, kind=kind, points_cost=points_cost, value=value, min_tier=min_tier,
                           limit_per_customer=limit_per_customer, limit_total=limit_total, active=active,
                           currency=prog.currency, tiers=prog.tiers)
        if r.id == rewards.PUNCH_CARD_ID:
            raise BadUserInput("this id is reserved for the punch card", field="id")
        return await store.rewards.upsert(conn, shop, **asdict(r)), prog.currency


async def catalog(conn: Executor, shop: str) -> tuple[list[Mapping[str, Any] | asyncpg.Record], str]:
    """The active listed rewards and the currency of their values. Before the shop's first write:
    the starter catalog that write will seed."""
    prog = await _stored(conn, shop)
    if prog is None:
        return [asdict(r) for r in rewards.seeded(DEFAULT.currency)], DEFAULT.currency
    return list(await store.rewards.catalog(conn, shop)), prog.currency


async def liability(conn: Executor, shop: str) -> tuple[Decimal, str]:
    """Outstanding points (available and pending) × point value, in the program currency."""
    prog = await in_force(conn, shop)
    return Decimal(await store.ledger.outstanding_points(conn, shop)) * prog.point_value, prog.currency


async def not_eligible(conn: Executor, shop: str) -> list[asyncpg.Record]:
    """Paid orders that earned nothing for want of an exchange rate, per currency (admin)."""
    return await store.orders.not_eligible(conn, shop)
