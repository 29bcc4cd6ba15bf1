"""A platform's privacy requests, honoured like exportCustomerData and eraseCustomer.

- A data request is noted once per platform request id; the admin finds it in commerceDataRequests,
  whose `export` is the person's exportCustomerData (every service's part, joined by the gateway).
- A customer redaction is eraseCustomer (intake.py): customer.erased tells every service.
- A shop redaction (Shopify's shop/redact, 48 hours after the app was uninstalled) erases every
  customer of the shop the store is connected to, in batches by a job: each erasure is the one of
  eraseCustomer, so every service forgets the person and keeps its anonymous sums (points ledgers
  keep ids and sums). The shop's data requests and delivery ids go too; the connection stays, marked,
  with only the webhook secret that verifies a repeated request.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from services.customers import erasure, store
from services.customers.platforms.connecting import Link, vault
from shared import schedule
from shared.db import Connection
from shared.schedule import Job

REDACT_SHOP_JOB = "platforms.redact_shop"
REDACTION_BATCH = 200


async def note_data_request(conn: Connection, link: Link, request_id: str, customer_id: str,
                            orders: list[str]) -> str:
    known = await store.profiles.get(conn, link.shop, customer_id) is not None
    row = await store.data_requests.add(conn, link.shop, f"dr-{secrets.token_hex(8)}", link.id, request_id,
                                        customer_id, orders, known)
    if row is None:
        return f"data request {request_id} noted before"
    return f"data request {request_id} noted" + ("" if known else " (nothing held about the person)")


async def redact_shop(conn: Connection, link: Link) -> str:
    kept = {k: v for k, v in link.secrets.items() if k == "webhook_secret"}
    await store.connections.set_secrets(conn, link.shop, link.id, vault().seal(kept))
    await schedule.schedule(conn, shop=link.shop, kind=REDACT_SHOP_JOB, dedup_key=f"{link.id}:0",
                            due_at=datetime.now(UTC), payload={"connection_id": link.id, "batch": 0})
    return "shop redaction scheduled"


async def redact_batch(conn: Connection, job: Job) -> None:
    """One batch of a shop redaction; the next batch is its own job, until nobody is left."""
    shop = job.shop
    people = await store.profiles.unerased(conn, shop, REDACTION_BATCH)
    for customer_id in people:
        await erasure.erase_in(conn, shop, customer_id)
    if len(people) == REDACTION_BATCH:
        batch = int(job.payload.get("batch", 0)) + 1
        await schedule.schedule(conn, shop=shop, kind=REDACT_SHOP_JOB,
                                dedup_key=f"{job.payload['connection_id']}:{batch}", due_at=datetime.now(UTC),
                                payload={**job.payload, "batch": batch})
        return
    await store.data_requests.forget_shop(conn, shop)
    await store.connections.forget_deliveries(conn, shop)
