"""The notifications subgraph: a customer's delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

import asyncpg
import strawberry
from strawberry.types import Info

from services.notifications import store
from shared.graphql import EXTENSIONS, customer_ctx, guarded_reference
from shared.pagination import Connection, connection, decode_cursor, page_size


@strawberry.enum
class NotificationChannel(Enum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    WHATSAPP = "WHATSAPP"
    WEBHOOK = "WEBHOOK"


@strawberry.enum
class NotificationStatus(Enum):
    SCHEDULED = "SCHEDULED"
    SENT = "SENT"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"
    CANCELLED = "CANCELLED"


@strawberry.type
class Notification:
    id: strawberry.ID
    channel: NotificationChannel
    template: str
    status: NotificationStatus
    subject: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Notification:
        return cls(id=strawberry.ID(str(row["id"])), channel=NotificationChannel(row["channel"]),
                   template=row["template"], status=NotificationStatus(row["status"]),
                   subject=row["subject"], created_at=row["created_at"], sent_at=row["sent_at"])


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    resolve_reference = classmethod(guarded_reference)

    @strawberry.field(description="Messages sent or planned for the customer, newest first.")
    async def notifications(self, info: Info, first: int | None = None,
                            after: str | None = None) -> Connection[Notification]:
        c = customer_ctx(info, self.id)
        size = page_size(first)
        rows = await store.deliveries(c.pool, c.shop, self.id, size,
                                      decode_cursor(after, datetime.fromisoformat, uuid.UUID))
        return connection(rows, size, node=Notification.from_row,
                          key=lambda r: (r["created_at"].isoformat(), str(r["id"])), after=after)


schema = strawberry.federation.Schema(
    types=[Customer],
    extensions=EXTENSIONS,
    federation_version="2.9",
)
