"""The admin's view of each service's dead letters (shared/dead_letters.py), in one query:

    { deadLetters { customers { count oldest reasons { reason count eventTypes } }
                    points { count oldest reasons { reason count } letters { id eventType reason } } … } }

`DeadLetters` is a federated entity: the customers subgraph owns the root query, and each subgraph adds
one field named after itself (the pattern of `CustomerDataExport`). An admin sees the letters of their
own shop; a body that is no event at all (no shop) is for the operator's `make dead-letters`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from shared import dead_letters
from shared.graphql import admin_entity_part


@strawberry.federation.type(shareable=True, description="Dead letters of one reason (ids and values left out).")
class DeadLetterReason:
    reason: str
    example: str = strawberry.field(description="One reason in full.")
    count: int
    oldest: datetime
    newest: datetime
    event_types: list[str]


@strawberry.federation.type(shareable=True, description="One dead letter waiting (not replayed yet).")
class DeadLetter:
    id: strawberry.ID = strawberry.field(description="What `make replay-dead-letters LETTERS=…` takes.")
    event_id: str | None
    event_type: str | None
    reason: str
    attempts: int
    dead_at: datetime
    replays: int = strawberry.field(description="How often it was replayed before and died again.")


@strawberry.federation.type(shareable=True, description=(
    "A service's dead letters of the caller's shop: events it gave up on (poison, or failing through "
    "every retry), waiting to be replayed after a fix."))
class DeadLetterQueue:
    queue: str
    count: int
    oldest: datetime | None
    reasons: list[DeadLetterReason]
    letters: list[DeadLetter] = strawberry.field(description="The oldest waiting ones, at most 20.")


async def queue_of(info: Info, service: str) -> DeadLetterQueue:
    context = info.context
    context.principal.require_admin()
    queue = f"{service}.events"
    s = await dead_letters.summary(context.pool, queue, context.shop)
    rows = await dead_letters.letters(context.pool, queue, context.shop, 20)
    return DeadLetterQueue(
        queue=queue, count=s["count"], oldest=s["oldest"],
        reasons=[DeadLetterReason(reason=r["reason"], example=r["example"], count=r["count"], oldest=r["oldest"],
                                  newest=r["newest"], event_types=r["event_types"]) for r in s["reasons"]],
        letters=[DeadLetter(id=strawberry.ID(str(r["id"])), event_id=r["message_id"], event_type=r["event_type"],
                            reason=r["reason"], attempts=r["attempts"], dead_at=r["dead_at"], replays=r["replays"])
                 for r in rows])


def dead_letters_part(service: str) -> type:
    """The service's part of the federated `DeadLetters` entity: a field named after it."""

    async def resolve(self: Any, info: Info) -> DeadLetterQueue:
        return await queue_of(info, service)

    return admin_entity_part(
        "DeadLetters", "shop", "shop", service,
        strawberry.field(resolver=resolve, description=f"The {service} service's dead letters."),
        "Each service's dead letters (admin, the caller's shop). Each subgraph adds one field named after "
        "itself; the gateway joins them in one query.")


def root_query(part: type) -> Any:
    """The root field `deadLetters`, for the subgraph that owns it (customers), given its part."""
    async def dead_letters_of_the_shop(info: Info) -> Any:
        info.context.principal.require_admin()
        return part(shop=strawberry.ID(info.context.shop))
    return strawberry.field(resolver=dead_letters_of_the_shop, graphql_type=part, description=(
        "Admin: each service's dead letters of the shop: count, oldest, reasons grouped, the oldest "
        "letters (replayed with `make replay-dead-letters`, docs/operations.md)."))
