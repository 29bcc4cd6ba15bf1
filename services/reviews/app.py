"""ASGI entry point: `uvicorn services.reviews.app:app`."""

from pathlib import Path

from services.reviews.consumers import HANDLERS
from services.reviews.jobs import JOBS
from services.reviews.schema import schema
from shared.runtime import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="reviews",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs=JOBS,
)
app = create_app(DEFINITION)
