"""Channels: email over SMTP, SMS and WhatsApp through an HTTP provider with Twilio's Messages
API, and a webhook (HMAC-SHA256 signed POST) to the merchant's own ESP. A sender raises on any
failure; delivery.py retries and records the reason."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from services.notifications import mail
from services.notifications.links import Links
from services.notifications.templates import Rendered
from shared.settings import Settings

SIGNATURE_HEADER = "X-Flywheel-Signature"
TIMESTAMP_HEADER = "X-Flywheel-Timestamp"


class ChannelNotConfigured(Exception):
    """The shop has not configured the provider of this channel."""


class ProviderError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Message:
    delivery_id: str
    shop: str
    customer_id: str
    channel: str
    template: str
    locale: str
    rendered: Rendered
    recipient: str
    unsubscribe_url: str | None
    variables: dict[str, Any]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` over "<timestamp>.<body>": the receiver recomputes it and rejects old timestamps."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


async def signed_post(client: httpx.AsyncClient, url: str, secret: str, payload: dict[str, Any],
                      headers: dict[str, str] | None = None) -> httpx.Response:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    timestamp = str(int(time.time()))
    response = await client.post(url, content=body, headers={
        "content-type": "application/json", TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body), **(headers or {})})
    if response.status_code >= 300:
        raise ProviderError(f"webhook answered HTTP {response.status_code}: {response.text[:200]}",
                            response.status_code)
    return response


class Senders:
    def __init__(self, settings: Settings, links: Links, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.links = links
        self.client = client or httpx.AsyncClient(timeout=10)

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, message: Message, config: asyncpg.Record | None) -> None:
        """Hand the message to its channel; `config` is the shop's settings (providers, webhook)."""
        if message.channel == "EMAIL":
            await self._email(message)
            return
        if message.channel in ("SMS", "WHATSAPP"):
            await self._provider(config, message)
        else:
            await self._webhook(config, message)

    async def _email(self, message: Message) -> None:
        html = self.links.track_html(message.rendered.html, message.shop, message.delivery_id)
        email = mail.build_message(
            sender=self.settings.mail_from, to=message.recipient, delivery_id=message.delivery_id,
            rendered=Rendered(message.rendered.subject, message.rendered.text, html),
            unsubscribe_url=message.unsubscribe_url, locale=message.locale,
        )
        await mail.send(email, host=self.settings.smtp_host, port=self.settings.smtp_port)

    async def _provider(self, config: asyncpg.Record | None, message: Message) -> None:
        sender = config and (config["whatsapp_from"] if message.channel == "WHATSAPP" else config["sms_from"])
        if not config or not config["sms_provider_url"] or not config["sms_account_sid"] or not sender:
            raise ChannelNotConfigured(f"{message.channel} provider is not configured for this shop")
        prefix = "whatsapp:" if message.channel == "WHATSAPP" else ""
        account = config["sms_account_sid"]
        url = f"{config['sms_provider_url'].rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"
        body = message.rendered.text if message.unsubscribe_url is None else (
            f"{message.rendered.text}\n{message.unsubscribe_url}")
        response = await self.client.post(
            url, auth=(account, config["sms_auth_token"] or ""),
            data={"To": f"{prefix}{message.recipient}", "From": f"{prefix}{sender}", "Body": body},
        )
        if response.status_code >= 300:
            try:
                detail = response.json().get("message") or response.text
            except ValueError:
                detail = response.text
            raise ProviderError(f"provider answered HTTP {response.status_code}: {str(detail)[:200]}",
                                response.status_code)

    async def _webhook(self, config: asyncpg.Record | None, message: Message) -> None:
        if not config or not config["message_webhook_url"] or not config["webhook_secret"]:
            raise ChannelNotConfigured("the message webhook is not configured for this shop")
        await signed_post(self.client, config["message_webhook_url"], config["webhook_secret"], {
            "notificationId": message.delivery_id, "customerId": message.customer_id,
            "template": message.template, "locale": message.locale, "subject": message.rendered.subject,
            "text": message.rendered.text, "html": message.rendered.html, "variables": message.variables,
            "unsubscribeUrl": message.unsubscribe_url,
        })
