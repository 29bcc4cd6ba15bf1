"""Local mail sink: stands in for the shop's mail provider when running without Docker.

SMTP on $SMTP_HOST:$SMTP_PORT accepts every message (any AUTH too, no TLS) and stores it in a
Maildir (.run/mail, or $MAILSINK_DIR). HTTP on 127.0.0.1:$MAILSINK_HTTP_PORT lets tests and
people look at what was sent:

    GET    /messages[?to=addr]   JSON list, oldest first (newest last)
    GET    /messages/{id}        one message
    GET    /messages/{id}/html   its HTML part as a page (to eyeball a template)
    DELETE /messages             remove all
    GET    /                     a small HTML list
    GET    /healthz              200 once both servers listen

Each message is {id, from, to, subject, date, message_id, text, html, headers, envelope_from,
received}. `to` is the list of envelope recipients (who the sender actually addressed, Bcc
included); `headers` holds the message's own headers; `date` is ISO 8601.

Run: .venv/bin/python infra/mailsink.py
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import html
import logging
import mailbox
import os
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
MAIL_DIR = Path(os.environ.get("MAILSINK_DIR", ROOT / ".run" / "mail"))
SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "1025"))
HTTP_HOST = os.environ.get("MAILSINK_HTTP_HOST", "127.0.0.1")
HTTP_PORT = int(os.environ.get("MAILSINK_HTTP_PORT", "8025"))

# Envelope data travels with the stored message as headers of our own; they are stripped from
# `headers` in the API so that field shows exactly what the sender wrote.
RCPT_HEADER = "X-Mailsink-Rcpt-To"
FROM_HEADER = "X-Mailsink-Mail-From"
RECEIVED_HEADER = "X-Mailsink-Received-Ns"
INTERNAL = {h.lower() for h in (RCPT_HEADER, FROM_HEADER, RECEIVED_HEADER)}

log = logging.getLogger("mailsink")
parser = BytesParser(policy=policy.default)


def maildir() -> mailbox.Maildir:
    # Maildir(create=True) skips the subfolders when the top folder already exists (stack.sh makes it).
    for sub in ("tmp", "new", "cur"):
        (MAIL_DIR / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(MAIL_DIR, create=False)


class Handler:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        # Header lines of our own first; Maildir files conventionally use bare \n line ends.
        prefix = (
            f"{RCPT_HEADER}: {', '.join(envelope.rcpt_tos)}\n"
            f"{FROM_HEADER}: {envelope.mail_from or ''}\n"
            f"{RECEIVED_HEADER}: {time.time_ns()}\n"
        ).encode()
        key = maildir().add(prefix + content.replace(b"\r\n", b"\n"))
        log.info("stored %s from %s to %s", key, envelope.mail_from, ", ".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def accept_any_login(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any):
    # A sender configured with credentials must still get through: this is a sink, not a gate.
    return AuthResult(success=True)


def _part(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        return part.get_content()
    except (LookupError, UnicodeDecodeError):  # unknown or lying charset: still show something
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def _iso(value: str | None, fallback: datetime) -> str:
    if value:
        try:
            return email.utils.parsedate_to_datetime(str(value)).isoformat()
        except (TypeError, ValueError):
            pass
    return fallback.isoformat()


def to_json(key: str, raw: bytes) -> dict[str, Any]:
    msg = parser.parsebytes(raw)
    received_ns = int(str(msg.get(RECEIVED_HEADER, "0")) or 0)
    received = datetime.fromtimestamp(received_ns / 1e9, UTC)
    rcpts = [a.strip() for a in str(msg.get(RCPT_HEADER, "")).split(",") if a.strip()]
    if not rcpts:  # stored by something else than our SMTP side: use the headers
        rcpts = [addr for _, addr in email.utils.getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []))]
    headers: dict[str, str] = {}
    for name, value in msg.items():
        if name.lower() in INTERNAL:
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else str(value)
    return {
        "id": key,
        "from": str(msg.get("From", "")),
        "to": rcpts,
        "subject": str(msg.get("Subject", "")),
        "date": _iso(msg.get("Date"), received),
        "message_id": str(msg.get("Message-ID", "")),
        "text": _part(msg, "plain"),
        "html": _part(msg, "html"),
        "headers": headers,
        "envelope_from": str(msg.get(FROM_HEADER, "")),
        "received": received.isoformat(),
        "_ns": received_ns,
    }


def _addresses(m: dict[str, Any]) -> set[str]:
    header_addrs = email.utils.getaddresses([m["headers"].get("To", ""), m["headers"].get("Cc", "")])
    return {a.lower() for a in m["to"]} | {addr.lower() for _, addr in header_addrs if addr}


# Parsed messages by Maildir key: a message file never changes once delivered, and re-parsing
# hundreds of MIME messages on every GET made test polling slow.
_parsed: dict[str, tuple[dict[str, Any], set[str]]] = {}
_parsing = threading.Lock()  # requests run in worker threads


def all_messages(to: str | None = None) -> list[dict[str, Any]]:
    with _parsing:
        return _all_messages(to)


def _all_messages(to: str | None) -> list[dict[str, Any]]:
    box = maildir()
    keys = set(box.keys())
    for gone in set(_parsed) - keys:
        del _parsed[gone]
    for key in keys - set(_parsed):
        try:
            m = to_json(key, box.get_bytes(key))
        except KeyError:  # deleted while we were listing
            continue
        _parsed[key] = (m, _addresses(m))
    found = [m for m, addresses in _parsed.values() if not to or to.lower() in addresses]
    found.sort(key=lambda m: (m["_ns"], m["id"]))
    return [{k: v for k, v in m.items() if k != "_ns"} for m in found]


async def list_messages(request: Request) -> Response:
    return JSONResponse(await asyncio.to_thread(all_messages, request.query_params.get("to")))


def _one(key: str) -> dict[str, Any] | None:
    try:
        m = to_json(key, maildir().get_bytes(key))
    except KeyError:
        return None
    del m["_ns"]
    return m


async def get_message(request: Request) -> Response:
    m = await asyncio.to_thread(_one, request.path_params["id"])
    return JSONResponse(m) if m else JSONResponse({"error": "not found"}, status_code=404)


async def get_message_html(request: Request) -> Response:
    m = await asyncio.to_thread(_one, request.path_params["id"])
    if not m:
        return HTMLResponse("not found", status_code=404)
    if m["html"] is None:
        return HTMLResponse(f"<pre>{html.escape(m['text'] or '')}</pre>")
    return HTMLResponse(m["html"])


def _clear() -> int:
    box = maildir()
    keys = list(box.keys())
    for key in keys:
        box.discard(key)
    return len(keys)


async def delete_messages(request: Request) -> Response:
    return JSONResponse({"deleted": await asyncio.to_thread(_clear)})


async def index(request: Request) -> Response:
    rows = []
    for m in reversed(await asyncio.to_thread(all_messages)):
        e = {k: html.escape(str(v)) for k, v in m.items() if isinstance(v, str)}
        body = html.escape(m["text"] or "")
        rows.append(
            f"<tr><td>{e['received'][:19]}</td><td>{e['from']}</td><td>{html.escape(', '.join(m['to']))}</td>"
            f"<td><details><summary>{e['subject']}</summary><pre>{body}</pre></details></td>"
            f"<td>{'<a href=/messages/' + e['id'] + '/html>html</a>' if m['html'] else ''}</td></tr>"
        )
    page = (
        "<!doctype html><meta charset=utf-8><title>Flywheel mail sink</title>"
        "<style>body{font:14px sans-serif;margin:2em}td{border-bottom:1px solid #ddd;padding:4px 8px;"
        "vertical-align:top}pre{white-space:pre-wrap;max-width:60em}</style>"
        f"<h1>Flywheel mail sink</h1><p>{len(rows)} message(s), newest first. "
        "JSON: <a href=/messages>/messages</a>; clear with <code>curl -X DELETE .../messages</code></p>"
        "<table><tr><th>received</th><th>from</th><th>to</th><th>subject</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return HTMLResponse(page)


smtp_server: asyncio.Server | None = None


async def healthz(request: Request) -> Response:
    ok = smtp_server is not None and smtp_server.is_serving()
    return JSONResponse({"ok": ok, "smtp": f"{SMTP_HOST}:{SMTP_PORT}"}, status_code=200 if ok else 503)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global smtp_server
    maildir()  # create the folders before the first request
    handler = Handler()
    loop = asyncio.get_running_loop()
    smtp_server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="mailsink.local",  # the default looks up the machine's FQDN, slow without DNS
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=accept_any_login,
        ),
        host=SMTP_HOST,
        port=SMTP_PORT,
    )
    log.info("SMTP on %s:%s, HTTP on %s:%s, Maildir %s", SMTP_HOST, SMTP_PORT, HTTP_HOST, HTTP_PORT, MAIL_DIR)
    try:
        yield
    finally:
        smtp_server.close()
        await smtp_server.wait_closed()


app = Starlette(
    routes=[
        Route("/", index),
        Route("/healthz", healthz),
        Route("/messages", list_messages, methods=["GET"]),
        Route("/messages", delete_messages, methods=["DELETE"]),
        Route("/messages/{id}", get_message),
        Route("/messages/{id}/html", get_message_html),
    ],
    lifespan=lifespan,
)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    uvicorn.run(app, host=HTTP_HOST, port=HTTP_PORT, access_log=False, log_level="info")
