"""Events the customers service consumes. Each handler runs inside the inbox transaction
(shared/inbox.py), so its effect commits with the record of the event; engagement rows carry a
natural key per notification and kind, so a replay under a new event id counts once too.
A customer this service does not know (or erased) is skipped, not retried: nothing will change that."""

from __future__ import annotations

import asyncpg

from services.customers import store
from shared.bus import Handler
from shared.events import Envelope, NotificationEvent, NotificationSent, ReferralConverted

# Order confirmations and shipping notes go out without being asked for; not opening them says
# nothing about engagement, so only the other (marketing) emails count.
TRANSACTIONAL_PREFIXES = ("order_",)
_EMAIL_KINDS = {"notification.sent": "EMAIL_SENT", "notification.opened": "EMAIL_OPEN",
                "notification.clicked": "EMAIL_CLICK"}


async def on_email_engagement(conn: asyncpg.Connection, event: Envelope, data: NotificationEvent) -> None:
    if data.channel != "EMAIL" or data.template.startswith(TRANSACTIONAL_PREFIXES):
        return  # the engagement score counts marketing emails and site visits only
    kind = _EMAIL_KINDS[event.type]
    await store.add_engagement(conn, data.shop, data.customer_id, kind, event.time,
                               notification_id=data.notification_id,
                               key=f"notification:{data.notification_id}:{kind}",
                               offer=isinstance(data, NotificationSent) and data.offer)


async def on_referral_converted(conn: asyncpg.Connection, event: Envelope, data: ReferralConverted) -> None:
    await store.mark_referral_converted(conn, data.shop, data.order_id)


HANDLERS: dict[str, Handler] = {
    "notification.sent": on_email_engagement,  # type: ignore[dict-item]
    "notification.opened": on_email_engagement,  # type: ignore[dict-item]
    "notification.clicked": on_email_engagement,  # type: ignore[dict-item]
    "referral.converted": on_referral_converted,  # type: ignore[dict-item]
}
