"""Email over SMTP (aiosmtplib): a text part and an HTML alternative."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from services.notifications.templates import Rendered


def build_message(*, sender: str, to: str, rendered: Rendered, delivery_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    # A stable id per delivery lets a mail system drop the copy of an at-least-once resend.
    message["Message-ID"] = make_msgid(idstring=delivery_id, domain="flywheel.local")
    message["X-Flywheel-Delivery"] = delivery_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


async def send(message: EmailMessage, *, host: str, port: int, timeout: float = 15) -> None:
    await aiosmtplib.send(message, hostname=host, port=port, timeout=timeout, start_tls=False)
