"""ASGI entry point: `uvicorn services.customers.app:app`."""

from pathlib import Path

from services.customers.consumers import HANDLERS
from services.customers.jobs import JOBS
from services.customers.platforms.connecting import on_start
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
    on_start=on_start,  # SHOPIFY_WEBHOOKS as connections (development bootstrap)
)
app = create_app(DEFINITION)
