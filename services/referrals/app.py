"""ASGI entry point: `uvicorn services.referrals.app:app`."""

from pathlib import Path

from services.referrals.consumers import HANDLERS
from services.referrals.jobs import JOBS
from services.referrals.schema import schema
from shared.runtime import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="referrals",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs=JOBS,
)
app = create_app(DEFINITION)
