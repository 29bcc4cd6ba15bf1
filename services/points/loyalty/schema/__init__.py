"""GraphQL of the loyalty program, by area: program.py (the program and its tiers), account.py
(the loyalty account, its history, points per order, adjustments) and rewards.py (the catalog,
redemptions and codes). services/points/schema.py mounts their resolvers on Query, Mutation and
Customer. Resolvers are thin: they parse, check who calls, call one use case (or one read) and map
the result. Reads the schema repeats per parent go through the request's loaders (`rows_loader`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader

from shared.db import Executor
from shared.graphql import Context


class Keyed(Protocol):
    """The entity a Customer field resolves on (services/points/schema.py's Customer)."""
    id: strawberry.ID


def rows_loader(c: Context, name: str, key: str,
                fetch: Callable[[Executor, str, list[str]], Awaitable[list[asyncpg.Record]]]
                ) -> DataLoader[str, asyncpg.Record | None]:
    """The request's loader `name`: the rows of all the ids its fields ask for, in one `fetch`
    (a store function taking ids), each found by its column `key` (None for an id without a row)."""
    loader: DataLoader[str, asyncpg.Record | None] | None = c.loaders.get(name)
    if loader is None:
        async def load(ids: list[str]) -> list[asyncpg.Record | None]:
            rows = {r[key]: r for r in await fetch(c.pool, c.shop, ids)}
            return [rows.get(i) for i in ids]
        loader = c.loaders[name] = DataLoader(load_fn=load)
    return loader
