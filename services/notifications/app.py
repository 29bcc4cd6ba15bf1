"""ASGI entry point: `uvicorn services.notifications.app:app`."""

from pathlib import Path

from services.notifications.consumers import HANDLERS
from services.notifications.delivery import send_job
from services.notifications.schema import schema
from services.notifications.store import SEND_JOB
from shared.runtime import ServiceDefinition, create_app
from shared.settings import Settings

settings = Settings.from_env("notifications")
DEFINITION = ServiceDefinition(
    name="notifications",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs={SEND_JOB: send_job(settings)},
)
app = create_app(DEFINITION, settings)
