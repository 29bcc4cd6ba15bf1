"""Connections to commerce platforms, in the domain's words. Pure: no I/O.

A connection belongs to one shop and names one store (Shopify: its myshopify.com domain) or one
shop (Shopware 6: its shop id). Its secrets never leave the service: they are sealed (secrets.py)
and only the webhook edge and the push adapters open them.

Statuses: ACTIVE (takes events, pushes offers), DISCONNECTED (the admin disconnected it: events are
refused except the privacy requests, nothing is pushed), UNINSTALLED (the platform said the app was
removed: likewise), FAILING (pushes keep failing; events are still taken). Connecting again
reactivates a connection and replaces its secrets, which is how a secret is rotated.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import BadUserInput

SHOPIFY, SHOPWARE = "SHOPIFY", "SHOPWARE"
ACTIVE, DISCONNECTED, UNINSTALLED, FAILING = "ACTIVE", "DISCONNECTED", "UNINSTALLED", "FAILING"
TAKES_EVENTS = (ACTIVE, FAILING)
PUSHES = (ACTIVE, FAILING)
DEFAULT_SHOPIFY_API_VERSION = "2025-01"
SECRET_MAX = 512

_SHOPIFY_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$")
_API_VERSION = re.compile(r"^(20[2-9][0-9]-(01|04|07|10)|unstable)$")
_SHOPWARE_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_APP_NAME = re.compile(r"^[A-Za-z0-9_]{1,100}$")


def new_id() -> str:
    return f"cc-{secrets.token_hex(8)}"


def new_shop_secret() -> str:
    """The secret a Shopware shop signs its requests with, handed to it at registration."""
    return secrets.token_urlsafe(32)


def _secret(value: str | None, field: str, *, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise BadUserInput(f"{field} is required", field=field)
        return None
    if len(value) > SECRET_MAX or any(ord(c) < 33 for c in value):
        raise BadUserInput(f"{field} must be 1–{SECRET_MAX} printable characters without spaces", field=field)
    return value


@dataclass(frozen=True)
class ShopifyStore:
    domain: str
    webhook_secret: str
    admin_token: str | None
    api_version: str


def shopify_store(domain: str, webhook_secret: str, admin_token: str | None,
                  api_version: str | None) -> ShopifyStore:
    d = (domain or "").strip().lower()
    if not _SHOPIFY_DOMAIN.match(d):
        raise BadUserInput("domain must be the store's myshopify.com domain, e.g. my-store.myshopify.com",
                           field="domain")
    version = (api_version or DEFAULT_SHOPIFY_API_VERSION).strip()
    if not _API_VERSION.match(version):
        raise BadUserInput("apiVersion looks like 2025-01", field="apiVersion")
    return ShopifyStore(d, _secret(webhook_secret, "webhookSecret", required=True) or "",
                        _secret(admin_token, "adminAccessToken", required=False), version)


@dataclass(frozen=True)
class ShopwareShop:
    shop_id: str
    shop_url: str
    app_secret: str
    app_name: str | None
    client_id: str | None
    client_secret: str | None


def shop_url(value: str, field: str = "shopUrl") -> str:
    url = (value or "").strip().rstrip("/") if isinstance(value, str) else ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500 or parts.query \
            or parts.fragment or parts.username:
        raise BadUserInput(f"{field} must be the shop's http(s) address, e.g. https://shop.example", field=field)
    return url


def shopware_shop(shop_id: str, url: str, app_secret: str, app_name: str | None, client_id: str | None,
                  client_secret: str | None) -> ShopwareShop:
    sid = (shop_id or "").strip()
    if not _SHOPWARE_ID.match(sid):
        raise BadUserInput("shopId is the shop's id from its app registration (letters and digits)",
                           field="shopId")
    if app_name is not None and not _APP_NAME.match(app_name):
        raise BadUserInput("appName is the app's technical name from its manifest", field="appName")
    if (client_id is None) != (client_secret is None):
        raise BadUserInput("clientId and clientSecret go together", field="clientId")
    return ShopwareShop(sid, shop_url(url), _secret(app_secret, "appSecret", required=True) or "", app_name,
                        _secret(client_id, "clientId", required=False),
                        _secret(client_secret, "clientSecret", required=False))


def takes(status: str, privacy: bool) -> bool:
    """Whether a verified delivery is applied: privacy requests always are (the obligation to
    erase outlives the connection); everything else only while the connection is live."""
    return privacy or status in TAKES_EVENTS


def error_text(message: str) -> str:
    """What lastError keeps: one line, bounded."""
    return " ".join(message.split())[:500]
