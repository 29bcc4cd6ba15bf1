"""The use cases of the referrals API: a customer's code (issued at first need), what a friend sees
on the landing page, a referrer's stats, the shop's program and its configuration. A code is drawn
at random until one is free. (The friend's offer is the points service's to issue: offers.py.)

The program is read once per transaction (`program_of`, remembered by shared.db).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg

from services.referrals import codes, program, store
from shared.db import Connection, Executor, forget, remembered, transaction
from shared.errors import NotFound, RateLimited

LANDING_WINDOW = timedelta(minutes=1)
LANDING_MISSES_ALLOWED = 20  # unknown codes per client and window before lookups are refused
T = TypeVar("T")


async def program_of(conn: Executor, shop: str) -> dict[str, Any]:
    """The shop's program (the defaults until a merchant configures it), once per transaction."""
    return await remembered(f"referrals.program:{shop}", lambda: store.programs.of_shop(conn, shop))


async def _fresh(conn: Connection, draw: Callable[[], str], add: Callable[[str], Awaitable[T]], what: str) -> T:
    """`add` a freshly drawn code, drawing again while the code belongs to someone else; each try in a
    savepoint, so a collision leaves the caller's transaction usable."""
    for _ in range(codes.ATTEMPTS):
        try:
            async with conn.transaction():
                return await add(draw())
        except asyncpg.UniqueViolationError:
            continue
    raise RuntimeError(f"could not allocate a unique {what}")


async def code_of(conn: Connection, shop: str, customer_id: str) -> str:
    """The customer's referral code, created on first need. Concurrent callers get the same code."""
    code = await store.people.code_of(conn, shop, customer_id)
    if code is not None:
        return code
    return await _fresh(conn, codes.new_code, lambda c: store.people.add_code(conn, shop, customer_id, c),
                        "referral code")


async def codes_for(pool: asyncpg.Pool, shop: str, customer_ids: list[str]) -> list[str]:
    """The customers' referral codes, in their order: one read of those they have (no transaction:
    a panel read writes nothing once the code exists), a transaction only to create missing ones."""
    found = await store.people.codes_of(pool, shop, customer_ids)
    missing = [c for c in customer_ids if c not in found]
    if missing:
        async with transaction(pool) as conn:
            for customer_id in missing:
                found[customer_id] = await code_of(conn, shop, customer_id)
    return [found[c] for c in customer_ids]


@dataclass(frozen=True)
class Landing:
    code: str
    referrer_first_name: str | None
    percent_off: int
    minimum_order: Decimal
    currency: str


def _landing_window() -> datetime:
    """The start of the current landing window."""
    step = LANDING_WINDOW.total_seconds()
    return datetime.fromtimestamp(datetime.now(UTC).timestamp() // step * step, UTC)


async def landing(pool: asyncpg.Pool, shop: str, client: str, code: str) -> Landing:
    """What a friend sees on the referral link: the referrer's first name and the offer. A client
    that tried too many unknown codes in the window is refused. Runs without a transaction: a miss
    is counted although the lookup fails."""
    if await store.landing.misses(pool, shop, client, _landing_window()) >= LANDING_MISSES_ALLOWED:
        raise RateLimited("too many unknown codes; try again in a minute")
    referrer = await store.people.referrer_by_code(pool, shop, codes.normal(code[:64]))  # no lookup of a long text
    if referrer is None:
        await store.landing.count_miss(pool, shop, client, _landing_window())
        raise NotFound("unknown referral code", field="code")
    p = await store.programs.of_shop(pool, shop)
    return Landing(code=codes.normal(code), referrer_first_name=referrer["first_name"],
                   percent_off=p["friend_discount_percent"], minimum_order=p["minimum_order"], currency=p["currency"])


@dataclass(frozen=True)
class Standing:
    """A referrer's counts, rewards earned (in the program's currency) and ambassador status."""
    invited: int
    converted: int
    rejected: int
    reversed: int
    earned: Decimal
    earned_points: int
    currency: str
    ambassador: bool


async def standings(pool: Executor, shop: str, referrer_ids: list[str]) -> list[Standing]:
    """The standing of each referrer, in the order asked (zeros for one who referred no one): one
    query for all of them and one read of the program."""
    rows = {r["referrer_id"]: r for r in await store.referrals.stats(pool, shop, referrer_ids)}
    p = await program_of(pool, shop)
    return [_standing(rows.get(referrer_id), p) for referrer_id in referrer_ids]


def _standing(row: asyncpg.Record | None, p: dict[str, Any]) -> Standing:
    if row is None:
        return Standing(invited=0, converted=0, rejected=0, reversed=0, earned=Decimal(0), earned_points=0,
                        currency=p["currency"], ambassador=program.is_ambassador(p, 0))
    return Standing(invited=row["invited"], converted=row["converted"], rejected=row["rejected"],
                    reversed=row["reversed"], earned=row["earned"], earned_points=row["earned_points"],
                    currency=p["currency"], ambassador=program.is_ambassador(p, row["converted"]))


async def current_program(pool: asyncpg.Pool, shop: str) -> dict[str, Any]:
    """The program as the admin sees it (a shop's first read writes the defaults' row)."""
    return await store.programs.of_shop(pool, shop)


async def configure(pool: asyncpg.Pool, shop: str, given: dict[str, Any]) -> dict[str, Any]:
    """Change the program (`given`: program.changes' input); omitted fields keep their value."""
    async with transaction(pool) as conn:
        current = await program_of(conn, shop)
        await store.programs.save(conn, shop, program.changes(given, current["currency"]))
        forget(f"referrals.program:{shop}")
        return await program_of(conn, shop)
