"""The shop's referral program row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.db import Connection, Executor

# The columns of `programs` a merchant may change (a fixed whitelist for the UPDATE below).
PROGRAM_COLUMNS = ("friend_discount_percent", "friend_offer_valid_days", "minimum_order", "reward_kind",
                   "reward_amount", "reward_points", "ambassador_threshold", "ambassador_reward_amount",
                   "ambassador_reward_points",
                   "return_window_days", "signups_per_hour", "rewards_per_month", "shared_address_rejects",
                   "currency")


async def of_shop(conn: Executor, shop: str) -> dict[str, Any]:
    """The shop's program; a shop that never configured one gets the table's defaults (as a row)."""
    row = await conn.fetchrow("SELECT * FROM programs WHERE shop_id = $1", shop)
    if row is None:  # the shop's first read: one statement more, once (reads stay reads after that)
        await conn.execute("INSERT INTO programs (shop_id) VALUES ($1) ON CONFLICT DO NOTHING", shop)
        row = await conn.fetchrow("SELECT * FROM programs WHERE shop_id = $1", shop)
    if row is None:  # inserted just above
        raise LookupError(f"no program row for shop {shop}")
    return dict(row)


async def save(conn: Connection, shop: str, changes: Mapping[str, Any]) -> None:
    """Set the given columns of the shop's program row (which of_shop() has created)."""
    names = [name for name in PROGRAM_COLUMNS if name in changes]
    if names:
        assignments = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
        await conn.execute(f"UPDATE programs SET {assignments}, updated_at = now() WHERE shop_id = $1",
                           shop, *(changes[n] for n in names))
