"""Helpers for the notifications end-to-end tests: a fresh shop per test (its own flows and
settings), customers in it, events published onto the real exchange, the delivery log, the mail
sink, and a fake Twilio-style / webhook HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx

from tests.stack import db, mailsink_url, unique

UPSERT = """mutation($input: CustomerInput!) { upsertCustomer(input: $input) { id } }"""
FLOWS = "{ notificationFlows { key trigger enabled transactional steps { key template delaySeconds channels } " \
        "cancelledBy { event match } } }"
UPDATE_FLOW = """mutation($input: NotificationFlowInput!) { updateNotificationFlow(input: $input) {
  key enabled steps { key template delaySeconds channels } } }"""
SETTINGS = """mutation($input: NotificationSettingsInput!) { configureNotifications(input: $input) {
  dailyCap weeklyCap retrySeconds smsConfigured webhookConfigured } }"""
PREFS = """mutation($input: PreferencesInput!) { updateNotificationPreferences(input: $input) {
  email sms whatsapp phone locale timezone quietHoursStart quietHoursEnd } }"""
LOG = """query($id: ID!) { customer(id: $id) { notifications(first: 50) { edges { node {
  id channel template status flow step error attempts dueAt sentAt } } } } }"""


async def add_customer(gql, admin: dict[str, str], **over) -> str:
    customer_id = unique("c")
    await gql.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com", "firstName": "Anna",
                                    "locale": "en", "acceptsEmail": True, **over}}, admin)
    return customer_id


async def log(gql, admin: dict[str, str], customer_id: str) -> list[dict]:
    data = await gql.ok(LOG, {"id": customer_id}, admin)
    return [e["node"] for e in data["customer"]["notifications"]["edges"]]


def having(nodes: list[dict], **match) -> list[dict]:
    return [n for n in nodes if all(n.get(k) == v for k, v in match.items())]


async def mails(address: str) -> list[dict]:
    async with httpx.AsyncClient(timeout=30) as client:
        return (await client.get(f"{mailsink_url()}/messages", params={"to": address})).json()


async def handled(event_id: str) -> bool:
    conn = await db("notifications")
    try:
        return bool(await conn.fetchval("SELECT true FROM inbox WHERE event_id = $1", event_id))
    finally:
        await conn.close()


@dataclass
class FakeProvider:
    """A loopback HTTP server standing in for Twilio's Messages API and a merchant's webhook.
    `fail_with` makes it answer that status; every request is recorded."""
    fail_with: int | None = None
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                record = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": body}
                if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                    record["form"] = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                provider.requests.append(record)
                status = provider.fail_with or 201
                payload = json.dumps({"sid": f"SM{len(provider.requests)}", "status": "queued"} if status < 300
                                     else {"code": 30003, "message": "Unreachable destination handset"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def known_to_notifications(shop: str, customer_id: str) -> bool:
    """Notifications has the customer's contact (its copy arrives by event, after the upsert)."""
    conn = await db("notifications")
    try:
        return bool(await conn.fetchval(
            "SELECT count(*) FROM contacts WHERE shop_id = $1 AND customer_id = $2", shop, customer_id))
    finally:
        await conn.close()
