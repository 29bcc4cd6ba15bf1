"""A shop's own setup of its messages: its overrides of the shipped flows (on/off, a step's delay,
template or channels) and its settings (links, frequency caps, retry delays, channel providers).

Both are read once per transaction (`flows_of`, `settings_of`, remembered by shared.db): planning
one event reads them for every flow it triggers, sending one message for consent, caps, the channel
and its retries.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.notifications import flows, store, validation
from shared.db import Executor, remembered, transaction
from shared.errors import NotFound


async def flows_of(conn: Executor, shop: str) -> tuple[flows.Flow, ...]:
    """The shipped flows with the shop's overrides applied."""
    async def load() -> tuple[flows.Flow, ...]:
        return flows.shop_flows(await store.flow_overrides(conn, shop))
    return await remembered(f"notifications.flows:{shop}", load)


async def settings_of(conn: Executor, shop: str) -> asyncpg.Record | None:
    """The shop's settings row; None until it configured anything (the defaults of policy.py apply)."""
    return await remembered(f"notifications.settings:{shop}", lambda: store.shop_settings(conn, shop))


async def update_flow(pool: asyncpg.Pool, shop: str, key: str, enabled: bool | None,
                      steps: list[dict[str, Any]]) -> flows.Flow:
    """Enable or disable a shipped flow, change a step's delay, template or channels; returns the
    flow as the shop now has it."""
    flow = flows.BY_KEY.get(key)
    if flow is None:
        raise NotFound(f"unknown flow {key[:64]!r}", field="key")
    changes = validation.flow_change(flow, enabled, steps)
    async with transaction(pool) as conn:
        await store.save_flow_override(conn, shop, flow.key, enabled, changes)
        overrides = await store.flow_overrides(conn, shop)
    return flows.effective(flow, overrides.get(flow.key))


async def configure(pool: asyncpg.Pool, shop: str, given: dict[str, Any]) -> asyncpg.Record | None:
    """Set the given settings (None: keep the value)."""
    values = validation.shop_settings(given)
    async with transaction(pool) as conn:
        return await store.save_shop_settings(conn, shop, values)
