"""One adapter per platform, behind one interface: what the push of offers and the webhook
subscriptions need from a platform's Admin API. The offer rules never see a platform; a platform
never sees the rules. shopify_admin.py and shopware_admin.py implement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


class PlatformError(Exception):
    """A call the platform refused or did not answer. `auth`: the credentials are no longer good
    (the connection is marked FAILING until a call succeeds again)."""

    def __init__(self, message: str, *, auth: bool = False) -> None:
        super().__init__(message)
        self.auth = auth


class Unsupported(Exception):
    """An offer the platform cannot express as a code (a free product with no product named)."""


@dataclass(frozen=True)
class Code:
    """An offer as a platform discount code needs it (a subset of events.OfferFacts)."""
    offer_id: str
    code: str
    source: str
    kind: str  # FIXED_AMOUNT PERCENTAGE FREE_SHIPPING FREE_PRODUCT STORE_CREDIT
    value: Decimal | None
    currency: str | None
    min_order: Decimal | None
    starts_at: datetime | None
    expires_at: datetime | None
    customer_id: str | None
    usage_limit: int

    @classmethod
    def of(cls, facts: dict[str, Any]) -> Code:
        def dec(key: str) -> Decimal | None:
            return None if facts.get(key) is None else Decimal(str(facts[key]))

        def when(key: str) -> datetime | None:
            return None if not facts.get(key) else datetime.fromisoformat(str(facts[key]))
        return cls(offer_id=str(facts["offer_id"]), code=str(facts["code"]), source=str(facts["source"]),
                   kind=str(facts["kind"]), value=dec("value"), currency=facts.get("currency"),
                   min_order=dec("min_order"), starts_at=when("starts_at"), expires_at=when("expires_at"),
                   customer_id=facts.get("customer_id"), usage_limit=int(facts.get("usage_limit") or 1))

    @property
    def title(self) -> str:
        return f"Flywheel {self.source} {self.code}"


class Adapter(Protocol):
    async def create_code(self, code: Code, now: datetime) -> str:
        """Create the code, working; answers the platform's id for it. Creating a code that is
        there already answers the id of the one that is there."""

    async def set_code_active(self, remote_id: str, code: Code, active: bool) -> None:
        """Switch a code off (used up or revoked) or on again (given back)."""


class Subscriber(Protocol):
    async def subscribe(self, topics: tuple[str, ...], callback_base: str) -> int:
        """Register the webhook subscriptions; answers how many were new."""


class CustomerSource(Protocol):
    async def customer(self, customer_id: str) -> dict[str, Any]:
        """A customer as the platform's Admin API answers it."""

