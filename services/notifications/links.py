"""Signed links in messages: unsubscribe, open pixel, click redirect. Tokens are JWTs (PyJWT,
HS256) with a purpose claim, signed with a secret of the notifications service, so a link can
neither be forged nor turned into an open redirect to an address of someone else's choosing."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any

import jwt

from shared.settings import Settings

_HREF = re.compile(r'href="(https?://[^"]+)"')


class Links:
    def __init__(self, secret: str, public_url: str) -> None:
        self.secret = secret
        self.public_url = public_url.rstrip("/")

    @classmethod
    def from_env(cls, settings: Settings) -> Links:
        secret = os.environ.get("NOTIFICATIONS_LINK_SECRET") or hmac.new(
            settings.jwt_secret.encode(), b"flywheel-notification-links", hashlib.sha256).hexdigest()
        port = os.environ.get("NOTIFICATIONS_PORT") or "4105"
        return cls(secret, os.environ.get("NOTIFICATIONS_PUBLIC_URL") or f"http://127.0.0.1:{port}")

    def sign(self, purpose: str, **claims: Any) -> str:
        return jwt.encode({"p": purpose, **claims}, self.secret, algorithm="HS256")

    def verify(self, token: str, purpose: str) -> dict[str, Any] | None:
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return None
        return claims if claims.get("p") == purpose else None

    def unsubscribe(self, shop: str, customer_id: str, channel: str = "EMAIL") -> str:
        return f"{self.public_url}/unsubscribe?token={self.sign('unsub', s=shop, c=customer_id, ch=channel)}"

    def pixel(self, shop: str, delivery_id: str) -> str:
        return f"{self.public_url}/t/o/{self.sign('open', s=shop, d=delivery_id)}"

    def click(self, shop: str, delivery_id: str, url: str) -> str:
        return f"{self.public_url}/t/c/{self.sign('click', s=shop, d=delivery_id, u=url)}"

    def track_html(self, html: str, shop: str, delivery_id: str) -> str:
        """Route every absolute link through the click redirect and add the open pixel."""
        tracked = _HREF.sub(lambda m: f'href="{self.click(shop, delivery_id, _unescape(m.group(1)))}"', html)
        return f'{tracked}\n<img src="{self.pixel(shop, delivery_id)}" width="1" height="1" alt="">'


def _unescape(url: str) -> str:
    return url.replace("&amp;", "&")
