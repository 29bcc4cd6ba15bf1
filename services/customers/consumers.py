"""Events the customers service consumes. Each handler runs inside the inbox transaction
(shared/inbox.py), so its effect commits with the record of the event; engagement rows carry a
natural key per notification and kind, so a replay under a new event id counts once too.
A customer this service does not know (or erased) is skipped, not retried: nothing will change that."""

from __future__ import annotations

from services.customers import engagement, ordering
from services.customers.platforms import pushing
from shared.db import Connection
from shared.events import (
    Envelope,
    NotificationClicked,
    NotificationEvent,
    NotificationOpened,
    NotificationSent,
    OfferIssued,
    OfferRedeemed,
    OfferReleased,
    OfferRevoked,
    ReferralConverted,
)
from shared.handlers import EventHandlers, on

# Order confirmations and shipping notes go out without being asked for; not opening them says
# nothing about engagement, so only the other (marketing) emails count.
TRANSACTIONAL_PREFIXES = ("order_",)
_EMAIL_KINDS = {"notification.sent": "EMAIL_SENT", "notification.opened": "EMAIL_OPEN",
                "notification.clicked": "EMAIL_CLICK"}


async def on_email_engagement(conn: Connection, event: Envelope, data: NotificationEvent) -> None:
    if data.channel != "EMAIL" or data.template.startswith(TRANSACTIONAL_PREFIXES):
        return  # the engagement score counts marketing emails and site visits only
    kind = _EMAIL_KINDS[event.type]
    await engagement.add(conn, data.shop, data.customer_id, kind, event.time,
                         notification_id=data.notification_id,
                         key=f"notification:{data.notification_id}:{kind}",
                         offer=isinstance(data, NotificationSent) and data.offer)


async def on_referral_converted(conn: Connection, event: Envelope, data: ReferralConverted) -> None:
    await ordering.note_referral(conn, data.shop, data.order_id)


HANDLERS = EventHandlers(
    on(NotificationSent, on_email_engagement),
    on(NotificationOpened, on_email_engagement),
    on(NotificationClicked, on_email_engagement),
    on(ReferralConverted, on_referral_converted),
    # Offers reach the connected platforms as discount codes (platforms/pushing.py: jobs, never here).
    on(OfferIssued, pushing.on_offer_issued),
    on(OfferRedeemed, pushing.on_offer_redeemed),
    on(OfferRevoked, pushing.on_offer_revoked),
    on(OfferReleased, pushing.on_offer_released),
)
