"""ASGI entry point: `uvicorn services.reviews.app:app`."""

from pathlib import Path

from services.reviews.consumers import HANDLERS
from services.reviews.schema import schema
from shared.runtime import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="reviews",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
)
app = create_app(DEFINITION)
