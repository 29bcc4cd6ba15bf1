"""What the store modules share about rows."""

from __future__ import annotations

import asyncpg


def returned(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always returns one (INSERT … RETURNING without a conflict
    clause, UPDATE … RETURNING of a row the transaction holds locked)."""
    if row is None:
        raise LookupError("the statement returned no row")
    return row
