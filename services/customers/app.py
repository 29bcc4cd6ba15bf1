"""ASGI entry point: `uvicorn services.customers.app:app`."""

from pathlib import Path

from services.customers.consumers import HANDLERS
from services.customers.jobs import JOBS
from services.customers.schema import schema
from services.customers.webhooks import ROUTES
from shared.runtime import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="customers",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs=JOBS,
    routes=ROUTES,
)
app = create_app(DEFINITION)
