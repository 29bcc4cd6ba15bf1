"""Events the customers service consumes: none yet (engagement from notification events and
referral conversions arrive with the insights work)."""

from shared.bus import Handler

HANDLERS: dict[str, Handler] = {}
