"""Delayed work of the notifications service (shared.schedule); each handler runs in the job's
transaction. The handlers talk to the outside world through the process's `Senders`."""

from __future__ import annotations

from services.notifications import delivery, webhooks
from services.notifications.channels import Senders
from services.notifications.links import Links
from shared.schedule import JobHandler


def jobs(links: Links, senders: Senders) -> dict[str, JobHandler]:
    return {
        delivery.SEND_JOB: delivery.send_job(links, senders),  # a planned message is due
        webhooks.WEBHOOK_JOB: webhooks.send_job(senders.client),  # a merchant webhook delivery is due
    }
