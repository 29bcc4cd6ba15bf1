"""Events the reviews service consumes: none yet (order.delivered starts D+7 requests with the
reviews work)."""

from shared.bus import Handler

HANDLERS: dict[str, Handler] = {}
