"""ASGI entry point: `uvicorn services.notifications.app:app`."""

from pathlib import Path

from services.notifications import tracking
from services.notifications.channels import Senders
from services.notifications.consumers import HANDLERS
from services.notifications.jobs import jobs
from services.notifications.links import Links
from services.notifications.schema import schema
from shared.runtime import Runtime, ServiceDefinition, create_app
from shared.settings import Settings

settings = Settings.from_env("notifications")
links = Links.from_env(settings)
senders = Senders(settings, links)


async def on_stop(runtime: Runtime) -> None:
    await senders.close()


DEFINITION = ServiceDefinition(
    name="notifications",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs=jobs(links, senders),
    routes=tracking.routes(links),
    on_stop=on_stop,
)
app = create_app(DEFINITION, settings)
