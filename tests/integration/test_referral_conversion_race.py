"""Two workers converting the same referral at once: one reward, one event."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from services.referrals.attribution import CONVERT_JOB, convert_when_due
from shared.db import migrate
from shared.schedule import Job

REFERRALS = Path(__file__).resolve().parents[2] / "services" / "referrals" / "migrations"


async def test_racing_conversions_reward_once(scratch_dsn, pool):
    await migrate(scratch_dsn, [("referrals", REFERRALS)])
    shop = f"race-{uuid.uuid4().hex[:8]}"
    await pool.execute("INSERT INTO referral_codes (shop_id, customer_id, code) VALUES ($1, 'anna', $2)",
                       shop, uuid.uuid4().hex[:8].upper())
    referral_id = await pool.fetchval(
        """INSERT INTO referrals (shop_id, referrer_id, friend_id, code, order_id, order_paid, order_net, currency)
           VALUES ($1, 'anna', 'ben', 'X', 'o-1', true, 45, 'EUR') RETURNING id::text""", shop)
    job = Job(id=0, shop=shop, kind=CONVERT_JOB, dedup_key=referral_id, due_at=datetime.now(UTC),
              payload={"referral_id": referral_id}, attempts=0, final_attempt=False)

    async def worker():
        async with pool.acquire() as conn, conn.transaction():
            await convert_when_due(conn, job)

    await asyncio.gather(*(worker() for _ in range(4)))
    row = await pool.fetchrow("SELECT status, reward_amount FROM referrals WHERE shop_id = $1", shop)
    assert (row["status"], row["reward_amount"]) == ("CONVERTED", 20)
    assert await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE shop_id = $1 AND type = 'referral.converted'", shop) == 1
