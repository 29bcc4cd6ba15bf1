"""ASGI entry point: `uvicorn services.customers.app:app`."""

from pathlib import Path

from services.customers.consumers import HANDLERS
from services.customers.schema import schema
from shared.runtime import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="customers",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
)
app = create_app(DEFINITION)
