"""Migration 0020 on orders that were there before it: those in the program's currency earned at
1:1 and keep counting towards tiers; those in another currency earned 0 points silently and now
say why (NOT_ELIGIBLE with a note). Real PostgreSQL, a throwaway database."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from shared.db import SHARED_MIGRATIONS, init_connection, migrate
from tests.integration.conftest import SERVICES, migrate_until, throwaway_database

ORDER = """INSERT INTO order_points (shop_id, order_id, customer_id, currency, net_amount, earn_rate, multiplier,
               rule_version, earned, status, voided, paid_at)
           VALUES ($1, $2, 'c1', $3, $4, 1, 1, 1, $5, $6, $7, now())"""


async def test_earlier_orders_keep_their_rate_or_say_why_they_earned_nothing(settings, tmp_path):
    async with throwaway_database(settings) as dsn:
        await migrate_until(dsn, "points", "0020", tmp_path)
        conn = await asyncpg.connect(dsn)
        await init_connection(conn)
        try:
            await conn.execute("INSERT INTO programs (shop_id, version, config, actor) VALUES ('s', 1, $1, 'system')",
                               {"currency": "CHF"})
            await conn.execute(ORDER, "s", "o-chf", "CHF", Decimal("40.00"), 40, "PENDING", False)
            await conn.execute(ORDER, "s", "o-eur", "EUR", Decimal("25.00"), 0, "PENDING", False)
            await conn.execute(ORDER, "s", "o-void", "", Decimal(0), 0, "REVERSED", True)
            await conn.execute(ORDER, "other", "o-eur", "EUR", Decimal("10.00"), 10, "AVAILABLE", False)
            await migrate(dsn, [("shared", SHARED_MIGRATIONS), ("points", SERVICES / "points" / "migrations")])
            rows = {(r["shop_id"], r["order_id"]): r for r in await conn.fetch("SELECT * FROM order_points")}
        finally:
            await conn.close()
    chf, eur, void, default = rows["s", "o-chf"], rows["s", "o-eur"], rows["s", "o-void"], rows["other", "o-eur"]
    assert (chf["status"], chf["fx_rate"], chf["base_currency"], chf["points_note"]) == ("PENDING", 1, "CHF", None)
    assert (eur["status"], eur["fx_rate"], eur["earned"]) == ("NOT_ELIGIBLE", None, 0)
    assert eur["points_note"] == ("no exchange rate from EUR to the program currency CHF "
                                  "(paid before exchange rates existed)")
    assert (void["status"], void["fx_rate"]) == ("REVERSED", None)
    assert (default["status"], default["fx_rate"], default["base_currency"]) == ("AVAILABLE", 1, "EUR")
