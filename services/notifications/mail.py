"""Email over SMTP (aiosmtplib): a text part and an HTML alternative; marketing mail carries a
signed unsubscribe link in both parts and in the List-Unsubscribe header."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from services.notifications.templates import Rendered

UNSUBSCRIBE = {"en": "Unsubscribe", "de": "Abmelden"}


def build_message(*, sender: str, to: str, rendered: Rendered, delivery_id: str,
                  unsubscribe_url: str | None = None, locale: str = "en") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    # A stable id per delivery lets a mail system drop the copy of an at-least-once resend.
    message["Message-ID"] = make_msgid(idstring=delivery_id, domain="flywheel.local")
    message["X-Flywheel-Delivery"] = delivery_id
    text, body = rendered.text, rendered.html
    if unsubscribe_url:
        label = UNSUBSCRIBE.get(locale, UNSUBSCRIBE["en"])
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = f"{text}\n\n--\n{label}: {unsubscribe_url}"
        body = f'{body}\n<p><small><a href="{html.escape(unsubscribe_url)}">{label}</a></small></p>'
    message.set_content(text)
    message.add_alternative(body, subtype="html")
    return message


async def send(message: EmailMessage, *, host: str, port: int, timeout: float = 15) -> None:
    await aiosmtplib.send(message, hostname=host, port=port, timeout=timeout, start_tls=False)
