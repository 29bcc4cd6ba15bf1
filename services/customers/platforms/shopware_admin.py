"""The Shopware adapter: Shopware 6's Admin API, reached with OAuth client credentials
(POST /api/oauth/token) from the app registration (or an integration the admin connected).

An offer becomes a promotion with one individual code (useIndividualCodes), written with the sync
API (POST /api/_action/sync, upsert) under ids derived from the offer, so writing it again changes
nothing: a percentage or an absolute discount on the cart (store credit too) or on delivery (free
shipping), valid from start to expiry, limited to the offer's uses, to the bound customer
(personaCustomers). A minimum order needs a Shopware rule and is not written (docs/domain.md).
Switching the code off or on is the promotion's `active`.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import httpx

from services.customers.platforms import settings
from services.customers.platforms.adapters import Code, PlatformError, Unsupported
from services.customers.platforms.connecting import Link

_NAMESPACE = uuid.UUID("6f1c1d2e-4b5a-4c3d-9e8f-0a1b2c3d4e5f")
_tokens: dict[str, tuple[str, float]] = {}  # connection id → (access token, expiry): one per process


def entity_id(*parts: str) -> str:
    """A Shopware id (32 hex) that is always the same for the same parts."""
    return uuid.uuid5(_NAMESPACE, ":".join(parts)).hex


def promotion(code: Code, active: bool) -> dict[str, Any]:
    if code.kind == "FREE_SHIPPING":
        discount = {"scope": "delivery", "type": "percentage", "value": 100}
    elif code.value is not None and code.kind == "PERCENTAGE":
        discount = {"scope": "cart", "type": "percentage", "value": float(code.value)}
    elif code.value is not None and code.kind in ("FIXED_AMOUNT", "STORE_CREDIT"):
        discount = {"scope": "cart", "type": "absolute", "value": float(code.value)}
    else:
        raise Unsupported(f"a {code.kind} offer has no Shopware promotion here")
    pid = entity_id("promotion", code.offer_id)
    data: dict[str, Any] = {
        "id": pid, "name": code.title, "active": active,
        "validFrom": code.starts_at.isoformat() if code.starts_at else None,
        "validUntil": code.expires_at.isoformat() if code.expires_at else None,
        "maxRedemptionsGlobal": code.usage_limit, "maxRedemptionsPerCustomer": 1 if code.customer_id else None,
        "exclusive": False, "useCodes": True, "useIndividualCodes": True, "individualCodePattern": "FLY-%s%s%s%s",
        "individualCodes": [{"id": entity_id("code", code.offer_id), "code": code.code}],
        "discounts": [{"id": entity_id("discount", code.offer_id), "considerAdvancedRules": False, **discount}],
    }
    if code.customer_id:
        data["personaCustomers"] = [{"id": code.customer_id}]
    return data


class ShopwareAdmin:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.base = (link.shop_url or "").rstrip("/")

    async def _token(self, client: httpx.AsyncClient) -> str:
        cached = _tokens.get(self.link.id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        response = await client.post(f"{self.base}/api/oauth/token", json={
            "grant_type": "client_credentials", "client_id": self.link.secrets.get("client_id"),
            "client_secret": self.link.secrets.get("client_secret")})
        if response.status_code in (400, 401, 403):
            raise PlatformError(f"Shopware refused the client credentials ({response.status_code})", auth=True)
        if response.status_code != 200:
            raise PlatformError(f"Shopware token endpoint answered {response.status_code}")
        body = response.json()
        _tokens[self.link.id] = (str(body["access_token"]), time.monotonic() + int(body.get("expires_in", 600)) - 30)
        return str(body["access_token"])

    async def _request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        try:
            async with httpx.AsyncClient(timeout=settings.TIMEOUT_SECONDS) as client:
                token = await self._token(client)
                response = await client.request(method, f"{self.base}{path}", json=json, headers={
                    "Authorization": f"Bearer {token}", "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise PlatformError(f"Shopware Admin API unreachable: {type(exc).__name__}") from exc
        if response.status_code == 401:
            _tokens.pop(self.link.id, None)
            raise PlatformError("Shopware Admin API refused the token (401)", auth=True)
        if response.status_code >= 300:
            raise PlatformError(f"Shopware Admin API answered {response.status_code} to {method} {path}")
        return response

    async def _sync(self, payload: list[dict[str, Any]]) -> None:
        await self._request("POST", "/api/_action/sync",
                            [{"key": "flywheel-offer", "action": "upsert", "entity": "promotion", "payload": payload}])

    async def create_code(self, code: Code, now: datetime) -> str:
        data = promotion(code, active=True)
        await self._sync([data])
        return str(data["id"])

    async def set_code_active(self, remote_id: str, code: Code, active: bool) -> None:
        await self._sync([{"id": remote_id, "active": active}])

    async def customer(self, customer_id: str) -> dict[str, Any]:
        body = (await self._request("GET", f"/api/customer/{customer_id}")).json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise PlatformError(f"Shopware answered no customer {customer_id}")
        return data
