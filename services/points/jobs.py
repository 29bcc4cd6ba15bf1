"""Every scheduled job of the points service, kind → handler (shared/schedule.py runs them, each in
a savepoint of its own, retried when it raises). The kinds are named where the jobs are planned."""

from __future__ import annotations

from services.points.challenges import organising
from services.points.loyalty import earning, expiring, expiry, simulation_runs, tiering
from shared.db import Connection
from shared.schedule import Job, JobHandler


async def release_points(conn: Connection, job: Job) -> None:
    """The return window of an order has passed: its pending points become available."""
    await earning.release(conn, job.shop, job.payload["order_id"])


async def warn_expiring(conn: Connection, job: Job) -> None:
    """30 days before a lapse: points.expiring, unless the customer was active since."""
    await expiring.warn(conn, job.shop, job.payload)


async def expire_points(conn: Connection, job: Job) -> None:
    """The lapse: the balance expires, unless the customer was active since."""
    await expiring.lapse(conn, job.shop, job.payload)


async def review_tier(conn: Connection, job: Job) -> None:
    """The end of a tier's period or of an override: the tier that applies is looked at again."""
    await tiering.review(conn, job.shop, job.payload["customer_id"])


async def end_challenge(conn: Connection, job: Job) -> None:
    """A challenge's endsAt: its leaderboard bonus, once."""
    await organising.finish(conn, job.shop, job.payload["challenge_id"])


JOBS: dict[str, JobHandler] = {
    earning.RELEASE_JOB: release_points,
    expiry.WARN_JOB: warn_expiring,
    expiry.LAPSE_JOB: expire_points,
    tiering.REVIEW_JOB: review_tier,
    organising.END_JOB: end_challenge,
    simulation_runs.JOB: simulation_runs.page,  # one page of customers of a startProgramSimulation run
}
