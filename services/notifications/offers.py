"""The points service's answers to the offers messages asked for (delivery.py asks when a message
with an offer comes due). Matched by the message id the ask put in the context and the key it was
asked under: offer.issued puts the offer on the waiting message and makes it due at once;
offer.refused cancels it with the reason, so a message never promises an offer that was not issued.
Replays, and answers for a message that was sent, cancelled or erased meanwhile, change nothing."""

from __future__ import annotations

import logging
import uuid

from services.notifications import delivery, store
from services.notifications import variables as messages
from shared.db import Connection
from shared.events import OfferIssued, OfferRefused

log = logging.getLogger(__name__)


def _waiting_message(context: dict[str, str]) -> str | None:
    """The message an answer is for (None: the ask was not a message's)."""
    try:
        return str(uuid.UUID(context.get("delivery", "")))
    except ValueError:
        return None


async def issued(conn: Connection, data: OfferIssued) -> None:
    delivery_id = _waiting_message(data.context)
    if delivery_id is None:
        return
    offer = messages.offer_of(data.model_dump(mode="json"))
    due = await store.offer_issued(conn, data.shop, delivery_id, data.key, data.offer_id, offer)
    if due is None:
        log.info("offer %s for message %s: nothing waits for it (any more)", data.offer_id, delivery_id)
        return
    # Its own job (a key of its own: the wait's later job stays and finds the message sent).
    await delivery.queue_again(conn, data.shop, delivery_id, f"offer:{data.offer_id}", due)


async def refused(conn: Connection, data: OfferRefused) -> None:
    delivery_id = _waiting_message(data.context)
    if delivery_id is None:
        return
    if await store.offer_refused(conn, data.shop, delivery_id, data.key, f"offer refused: {data.reason}"[:1000]):
        await delivery.unqueue(conn, data.shop, [delivery_id])
