"""ASGI entry point: `uvicorn services.notifications.app:app`."""

from pathlib import Path

from services.notifications import tracking, webhooks
from services.notifications.channels import Senders
from services.notifications.consumers import HANDLERS
from services.notifications.delivery import send_job
from services.notifications.links import Links
from services.notifications.schema import schema
from services.notifications.store import SEND_JOB
from shared.runtime import Runtime, ServiceDefinition, create_app
from shared.settings import Settings

settings = Settings.from_env("notifications")
links = Links.from_env(settings)
senders = Senders(settings, links)


async def on_start(runtime: Runtime) -> None:
    runtime.extras["links"] = links


async def on_stop(runtime: Runtime) -> None:
    await senders.close()


DEFINITION = ServiceDefinition(
    name="notifications",
    schema=schema,
    migrations=Path(__file__).parent / "migrations",
    consumers=HANDLERS,
    jobs={SEND_JOB: send_job(settings, links, senders), webhooks.WEBHOOK_JOB: webhooks.send_job(senders.client)},
    routes=tracking.routes(links),
    on_start=on_start,
    on_stop=on_stop,
)
app = create_app(DEFINITION, settings)
