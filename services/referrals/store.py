"""All SQL of the referrals service."""

from __future__ import annotations

import asyncpg

from services.referrals.codes import new_code


async def ensure_code(conn: asyncpg.Connection, shop: str, customer_id: str) -> str:
    """The customer's code, created on first need. Concurrent callers get the same code: the
    primary key picks one winner. A collision of two random codes just draws again."""
    code = await conn.fetchval(
        "SELECT code FROM referral_codes WHERE shop_id = $1 AND customer_id = $2", shop, customer_id
    )
    if code is not None:
        return code
    for _ in range(5):
        try:
            async with conn.transaction():  # a savepoint when the caller holds a transaction
                return await conn.fetchval(
                    """INSERT INTO referral_codes (shop_id, customer_id, code) VALUES ($1, $2, $3)
                       ON CONFLICT (shop_id, customer_id)
                       DO UPDATE SET customer_id = EXCLUDED.customer_id
                       RETURNING code""",
                    shop, customer_id, new_code(),
                )
        except asyncpg.UniqueViolationError:
            continue
    raise RuntimeError("could not allocate a unique referral code")


async def remember_first_name(conn: asyncpg.Connection, shop: str, customer_id: str,
                              first_name: str | None) -> None:
    await conn.execute(
        "UPDATE referral_codes SET first_name = $3 WHERE shop_id = $1 AND customer_id = $2",
        shop, customer_id, first_name,
    )
