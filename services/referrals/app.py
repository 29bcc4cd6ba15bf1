"""ASGI entry point: `uvicorn services.referrals.app:app`."""

from pathlib import Path

from services.referrals import offers
from services.referrals.consumers import HANDLERS
from services.referrals.jobs import JOBS
from services.referrals.schema import schema
from shared.db import transaction
from shared.runtime import Runtime, ServiceDefinition, create_app


async def on_start(runtime: Runtime) -> None:
    """Start-up catch-up: friend offer codes minted here before go to the points service (offers.py)."""
    async with transaction(runtime.pool) as conn:
        await offers.schedule_carry_over(conn)


DEFINITION = ServiceDefinition(
    name="referrals",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs=JOBS,
    on_start=on_start,
)
app = create_app(DEFINITION)
