"""ASGI entry point: `uvicorn services.reviews.app:app`."""

from pathlib import Path

from services.reviews import requests, reviewing
from services.reviews.consumers import HANDLERS
from services.reviews.schema import schema
from shared.runtime import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="reviews",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs={requests.JOB_KIND: reviewing.send_request},
)
app = create_app(DEFINITION)
