"""What every store module needs to read rows."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.db import Executor


async def one(conn: Executor, query: str, *args: Any) -> asyncpg.Record:
    """A statement that returns exactly one row (an UPDATE … RETURNING of a row that exists)."""
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise LookupError(f"expected a row from: {' '.join(query.split()[:4])} …")
    return row
