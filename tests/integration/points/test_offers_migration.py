"""Migration 0011 turns the redemptions made before it into offers, keeping their codes and states:
validateRewardCode and the new checkCode / redeemCode work on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from services.points.loyalty import redemption
from services.points.offers import checkout, discounts
from shared.db import SHARED_MIGRATIONS, create_pool, migrate
from tests.integration.conftest import SERVICES, migrate_until, throwaway_database

SHOP = "shop-before-offers"
NOW = datetime.now(UTC)


def cart(subtotal: str) -> discounts.Cart:
    return discounts.cart(currency="EUR", subtotal=subtotal, shipping_total=None, customer_id="anna", lines=None)


async def test_redemptions_made_before_offers_become_offers_that_keep_working(settings, tmp_path):
    async with throwaway_database(settings) as dsn:
        await migrate_until(dsn, "points", "0011", tmp_path)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                """INSERT INTO rewards (shop_id, id, name, kind, points_cost, value, listed) VALUES
                   ($1, 'r-5-off', '5 off', 'FIXED_AMOUNT', 500, 5, true),
                   ($1, 'punch-card', '10 % off', 'PERCENTAGE', 0, 10, false),
                   ($1, 'store-credit', 'Store credit', 'STORE_CREDIT', 0, NULL, false)""", SHOP)
            await conn.executemany(
                """INSERT INTO redemptions (shop_id, id, customer_id, reward_id, idempotency_key, code, kind,
                       points_spent, value, currency, expires_at, used_at)
                   VALUES ($1, $2, 'anna', $3, $2, $4, $5, $6, $7, 'EUR', $8, $9)""",
                [(SHOP, "rd-open", "r-5-off", "OPENCODEAAAAAAAA", "FIXED_AMOUNT", 500, Decimal(5),
                  NOW + timedelta(days=30), None),
                 (SHOP, "rd-used", "r-5-off", "USEDCODEAAAAAAAA", "FIXED_AMOUNT", 500, Decimal(5),
                  NOW + timedelta(days=30), NOW - timedelta(days=1)),
                 (SHOP, "rd-punch", "punch-card", "PUNCHCODEAAAAAAA", "PERCENTAGE", 0, Decimal(10),
                  NOW + timedelta(days=30), None),
                 (SHOP, "rd-credit", "store-credit", "CREDITCODEAAAAAA", "STORE_CREDIT", 0, Decimal("7.50"),
                  NOW - timedelta(days=1), None)])
        finally:
            await conn.close()
        await migrate(dsn, [("shared", SHARED_MIGRATIONS), ("points", SERVICES / "points" / "migrations")])
        pool = await create_pool(dsn, max_size=4)
        try:
            offers = {r["redemption_id"]: r for r in await pool.fetch("SELECT * FROM offers WHERE shop_id = $1", SHOP)}
            assert {k: (r["code"], r["source"], r["status"], r["used_count"], r["customer_id"])
                    for k, r in offers.items()} == {
                "rd-open": ("OPENCODEAAAAAAAA", "REWARD", "ACTIVE", 0, "anna"),
                "rd-used": ("USEDCODEAAAAAAAA", "REWARD", "REDEEMED", 1, "anna"),
                "rd-punch": ("PUNCHCODEAAAAAAA", "PUNCH_CARD", "ACTIVE", 0, "anna"),
                "rd-credit": ("CREDITCODEAAAAAA", "STORE_CREDIT", "ACTIVE", 0, "anna")}
            assert await pool.fetchval("SELECT order_id FROM offer_uses WHERE shop_id = $1", SHOP) == (
                "validateRewardCode:1")

            punch = await checkout.check(pool, SHOP, "punchcode-aaaaaaa", cart("19.99"), "anna")
            assert (punch.valid, punch.discount) == (True, Decimal("2.00"))
            assert (await checkout.check(pool, SHOP, "CREDITCODEAAAAAA", cart("20"), "anna")).reason == "EXPIRED"
            assert (await checkout.check(pool, SHOP, "USEDCODEAAAAAAAA", cart("20"), "anna")).reason == "USED"
            check, used = await redemption.use_code(pool, SHOP, "opencode-aaaaaaaa")
            assert check.valid and used is not None and used.redemption["id"] == "rd-open"
            assert (await redemption.use_code(pool, SHOP, "OPENCODEAAAAAAAA"))[0].reason == "USED"
            assert (await redemption.use_code(pool, SHOP, "USEDCODEAAAAAAAA"))[0].reason == "USED"
            assert (await redemption.use_code(pool, SHOP, "CREDITCODEAAAAAA"))[0].reason == "EXPIRED"
        finally:
            await pool.close()
