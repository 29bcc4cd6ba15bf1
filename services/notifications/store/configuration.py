"""A shop's flow overrides and settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from shared.db import Connection, Executor


async def flow_overrides(conn: Executor, shop: str) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT flow_key, enabled, steps FROM flow_overrides WHERE shop_id = $1", shop)
    return {r["flow_key"]: {"enabled": r["enabled"], "steps": r["steps"]} for r in rows}


async def save_flow_override(conn: Connection, shop: str, flow_key: str, enabled: bool | None,
                             steps: dict[str, dict[str, Any]]) -> None:
    await conn.execute(
        """INSERT INTO flow_overrides (shop_id, flow_key, enabled, steps) VALUES ($1, $2, $3, $4)
           ON CONFLICT (shop_id, flow_key) DO UPDATE SET
               enabled = coalesce(EXCLUDED.enabled, flow_overrides.enabled),
               steps = flow_overrides.steps || EXCLUDED.steps, updated_at = now()""",
        shop, flow_key, enabled, steps,
    )


# The settings a shop may set (a fixed whitelist for the upsert below).
SETTINGS_COLUMNS = ("storefront_url", "tracking_url", "daily_cap", "weekly_cap", "retry_seconds", "sms_provider_url",
                    "sms_account_sid", "sms_auth_token", "sms_from", "whatsapp_from", "message_webhook_url",
                    "webhook_secret")


async def settings(conn: Executor, shop: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM shop_settings WHERE shop_id = $1", shop)


async def save_settings(conn: Connection, shop: str, values: Mapping[str, Any]) -> asyncpg.Record | None:
    """Set the given settings (absent ones keep their value)."""
    cols = [c for c in SETTINGS_COLUMNS if c in values]
    names = ", ".join(["shop_id", *cols])
    params = ", ".join(f"${i + 1}" for i in range(len(cols) + 1))
    updates = ", ".join([*(f"{c} = EXCLUDED.{c}" for c in cols), "updated_at = now()"])
    return await conn.fetchrow(
        f"""INSERT INTO shop_settings ({names}) VALUES ({params})
            ON CONFLICT (shop_id) DO UPDATE SET {updates} RETURNING *""",
        shop, *(values[c] for c in cols),
    )
