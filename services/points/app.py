"""ASGI entry point: `uvicorn services.points.app:app`."""

from pathlib import Path

from services.points.consumers import HANDLERS
from services.points.jobs import JOBS
from services.points.schema import schema
from shared.runtime import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="points",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs=JOBS,
)
app = create_app(DEFINITION)
