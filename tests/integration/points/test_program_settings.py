"""The program's own settings at work on real SQL (issue 19, item 8): the expiry reminder goes the
shop's expiryWarningDays before the lapse, not a fixed 30 days."""

from __future__ import annotations

from datetime import timedelta

from services.points.loyalty import configuration, posting
from services.points.loyalty.ledger import Entry
from services.points.loyalty.program import ProgramChange
from shared.db import transaction
from tests.integration.points.conftest import new_shop


async def test_the_expiry_reminder_goes_the_shops_warning_days_before_the_lapse(points_pool):
    shop, anna = new_shop(), "anna"
    program = await configuration.configure(points_pool, shop, ProgramChange(expiry_warning_days=14), actor="admin")
    assert program.expiry_warning_days == 14
    async with transaction(points_pool) as conn:
        await posting.post(conn, shop, Entry(customer_id=anna, kind="earn", delta=50, reason="review of p-1",
                                             idempotency_key="review:anna:p-1", actor="system"))
    jobs = {r["kind"]: r["due_at"] for r in await points_pool.fetch(
        "SELECT kind, due_at FROM scheduled_jobs WHERE shop_id = $1 AND kind IN ('points.expiring', 'points.expire')",
        shop)}
    assert jobs["points.expire"] - jobs["points.expiring"] == timedelta(days=14)
