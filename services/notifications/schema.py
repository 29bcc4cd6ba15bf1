"""The notifications subgraph: a customer's delivery log and preferences; admins' flows,
settings, failures and the order-delay note."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import Enum

import asyncpg
import strawberry
from strawberry.types import Info

from services.notifications import automation, flows, policy, store, validation, variables, webhooks
from shared.errors import BadUserInput, NotFound
from shared.graphql import EXTENSIONS, ctx, customer_ctx, guarded_reference
from shared.ids import external_id
from shared.pagination import Connection, connection, decode_cursor, page_size

MESSAGE_MAX = 1000


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
    due_at: datetime
    sent_at: datetime | None
    flow: str | None
    step: str | None
    attempts: int
    error: str | None = strawberry.field(description="Why it failed, was suppressed, cancelled or postponed.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Notification:
        return cls(id=strawberry.ID(str(row["id"])), channel=NotificationChannel(row["channel"]),
                   template=row["template"], status=NotificationStatus(row["status"]),
                   subject=row["subject"], created_at=row["created_at"], due_at=row["due_at"],
                   sent_at=row["sent_at"], flow=row["flow_key"], step=row["step_key"], attempts=row["attempts"],
                   error=row["error"])


def _hhmm(value) -> str | None:
    return value.strftime("%H:%M") if value else None


@strawberry.type
class NotificationPreferences:
    email: bool
    sms: bool
    whatsapp: bool
    phone: str | None
    locale: str
    timezone: str | None
    quiet_hours_start: str | None
    quiet_hours_end: str | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> NotificationPreferences:
        agreed = policy.consents(row)
        return cls(email=agreed["EMAIL"], sms=agreed["SMS"], whatsapp=agreed["WHATSAPP"], phone=row["phone"],
                   locale=policy.locale_of(row), timezone=row["pref_timezone"] or row["timezone"],
                   quiet_hours_start=_hhmm(row["quiet_start"]), quiet_hours_end=_hhmm(row["quiet_end"]))


@strawberry.input
class PreferencesInput:
    email: bool | None = None
    sms: bool | None = None
    whatsapp: bool | None = None
    locale: str | None = None
    timezone: str | None = None
    quiet_hours_start: str | None = strawberry.field(default=None, description='"22:00"; "" clears')
    quiet_hours_end: str | None = strawberry.field(default=None, description='"08:00"; "" clears')
    phone: str | None = strawberry.field(default=None, description="E.164, needed for SMS and WhatsApp")


@strawberry.type
class FlowCancelRule:
    event: str
    match: str | None


@strawberry.type
class FlowStep:
    key: str
    template: str
    delay_seconds: int
    channels: list[NotificationChannel]


@strawberry.type
class NotificationFlow:
    key: str
    trigger: str
    description: str
    enabled: bool
    transactional: bool
    steps: list[FlowStep]
    cancelled_by: list[FlowCancelRule]

    @classmethod
    def of(cls, f: flows.Flow) -> NotificationFlow:
        return cls(key=f.key, trigger=f.trigger, description=f.description, enabled=f.enabled,
                   transactional=f.transactional,
                   steps=[FlowStep(key=s.key, template=s.template, delay_seconds=int(s.delay.total_seconds()),
                                   channels=[NotificationChannel(c) for c in s.channels]) for s in f.steps],
                   cancelled_by=[FlowCancelRule(event=r.event, match=r.match) for r in f.cancel_on])


@strawberry.input
class FlowStepInput:
    key: str
    delay_seconds: int | None = None
    template: str | None = None
    channels: list[NotificationChannel] | None = strawberry.field(
        default=None, description="in order of preference: the first one the customer agreed to is used")


@strawberry.input
class NotificationFlowInput:
    key: str
    enabled: bool | None = None
    steps: list[FlowStepInput] | None = None


@strawberry.type
class NotificationSettings:
    storefront_url: str | None
    tracking_url: str | None
    daily_cap: int
    weekly_cap: int
    retry_seconds: list[int]
    sms_provider_url: str | None
    sms_from: str | None
    whatsapp_from: str | None
    message_webhook_url: str | None
    sms_configured: bool
    webhook_configured: bool

    @classmethod
    def from_row(cls, row: asyncpg.Record | None) -> NotificationSettings:
        def get(key: str):
            return row[key] if row else None
        return cls(storefront_url=get("storefront_url"), tracking_url=get("tracking_url"),
                   daily_cap=policy.DEFAULT_DAILY_CAP if get("daily_cap") is None else get("daily_cap"),
                   weekly_cap=policy.DEFAULT_WEEKLY_CAP if get("weekly_cap") is None else get("weekly_cap"),
                   retry_seconds=list(get("retry_seconds") or policy.DEFAULT_RETRY_SECONDS),
                   sms_provider_url=get("sms_provider_url"), sms_from=get("sms_from"),
                   whatsapp_from=get("whatsapp_from"), message_webhook_url=get("message_webhook_url"),
                   sms_configured=bool(get("sms_provider_url") and get("sms_account_sid") and get("sms_auth_token")),
                   webhook_configured=bool(get("message_webhook_url") and get("webhook_secret")))


@strawberry.input
class NotificationSettingsInput:
    storefront_url: str | None = None
    tracking_url: str | None = strawberry.field(default=None, description="with {order_id}")
    daily_cap: int | None = None
    weekly_cap: int | None = None
    retry_seconds: list[int] | None = None
    sms_provider_url: str | None = strawberry.field(default=None, description="Twilio-style Messages API base URL")
    sms_account_sid: str | None = None
    sms_auth_token: str | None = strawberry.field(default=None, description="write-only")
    sms_from: str | None = None
    whatsapp_from: str | None = None
    message_webhook_url: str | None = None
    webhook_secret: str | None = strawberry.field(default=None, description="write-only; signs webhook POSTs")


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


@strawberry.type
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    event_types: list[str]
    enabled: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> WebhookEndpoint:
        return cls(id=strawberry.ID(str(row["id"])), url=row["url"], event_types=list(row["event_types"]),
                   enabled=row["enabled"], created_at=row["created_at"])


@strawberry.input
class WebhookEndpointInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="absent: a new endpoint")
    url: str
    secret: str | None = strawberry.field(default=None, description="write-only; 16–200 characters")
    event_types: list[str]
    enabled: bool = True


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event_id: str
    event_type: str
    status: WebhookDeliveryStatus
    attempts: int
    response_status: int | None
    error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> WebhookDelivery:
        return cls(id=strawberry.ID(str(row["id"])), endpoint_id=strawberry.ID(str(row["endpoint_id"])),
                   event_id=row["event_id"], event_type=row["event_type"],
                   status=WebhookDeliveryStatus(row["status"]), attempts=row["attempts"],
                   response_status=row["response_status"], error=row["error"], created_at=row["created_at"],
                   delivered_at=row["delivered_at"])


def _page(rows, size, after) -> Connection[Notification]:
    return connection(rows, size, node=Notification.from_row,
                      key=lambda r: (r["created_at"].isoformat(), str(r["id"])), after=after)


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
        return _page(rows, size, after)

    @strawberry.field(description="Channels the customer agreed to, locale, timezone and quiet hours.")
    async def notification_preferences(self, info: Info) -> NotificationPreferences:
        c = customer_ctx(info, self.id)
        row = await store.contact(c.pool, c.shop, self.id)
        if row is None:
            raise NotFound("no notification profile for this customer yet")
        return NotificationPreferences.from_row(row)


@strawberry.type
class Query:
    @strawberry.field(description="Admin: the shop's flows with its overrides applied.")
    async def notification_flows(self, info: Info) -> list[NotificationFlow]:
        c = ctx(info)
        c.principal.require_admin()
        return [NotificationFlow.of(f) for f in flows.shop_flows(await store.flow_overrides(c.pool, c.shop))]

    @strawberry.field(description="Admin: messages that failed for good, newest first, with the reason.")
    async def failed_notifications(self, info: Info, first: int | None = None,
                                   after: str | None = None) -> Connection[Notification]:
        c = ctx(info)
        c.principal.require_admin()
        size = page_size(first)
        rows = await store.failed_deliveries(c.pool, c.shop, size,
                                             decode_cursor(after, datetime.fromisoformat, uuid.UUID))
        return _page(rows, size, after)

    @strawberry.field(description="Admin: the shop's outbound webhook endpoints.")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        c = ctx(info)
        c.principal.require_admin()
        return [WebhookEndpoint.from_row(r) for r in await store.webhook_endpoints(c.pool, c.shop)]

    @strawberry.field(description="Admin: the log of outbound webhook deliveries, newest first.")
    async def webhook_deliveries(self, info: Info, first: int | None = None, after: str | None = None,
                                 status: WebhookDeliveryStatus | None = None) -> Connection[WebhookDelivery]:
        c = ctx(info)
        c.principal.require_admin()
        size = page_size(first)
        rows = await store.webhook_deliveries(c.pool, c.shop, status.value if status else None, size,
                                              decode_cursor(after, datetime.fromisoformat, uuid.UUID))
        return connection(rows, size, node=WebhookDelivery.from_row,
                          key=lambda r: (r["created_at"].isoformat(), str(r["id"])), after=after)

    @strawberry.field(description="Admin: links, caps, retries and channel providers (secrets are not shown).")
    async def notification_settings(self, info: Info) -> NotificationSettings:
        c = ctx(info)
        c.principal.require_admin()
        return NotificationSettings.from_row(await store.shop_settings(c.pool, c.shop))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Customer: channels, locale, timezone, quiet hours.")
    async def update_notification_preferences(self, info: Info, input: PreferencesInput) -> NotificationPreferences:
        c = ctx(info)
        customer_id = c.principal.require_customer()
        async with c.pool.acquire() as conn, conn.transaction():
            current = await store.contact(conn, c.shop, customer_id)
            if current is None:
                raise NotFound("no notification profile for this customer yet")
            changes = validation.preferences(strawberry.asdict(input), current["phone"])
            row = await store.save_preferences(conn, c.shop, customer_id, changes)
        return NotificationPreferences.from_row(row)

    @strawberry.mutation(description="Admin: enable or disable a flow, change a step's delay or template.")
    async def update_notification_flow(self, info: Info, input: NotificationFlowInput) -> NotificationFlow:
        c = ctx(info)
        c.principal.require_admin()
        flow = flows.BY_KEY.get(input.key)
        if flow is None:
            raise NotFound(f"unknown flow {input.key[:64]!r}", field="key")
        changes = validation.flow_change(flow, input.enabled,
                                         [strawberry.asdict(s) for s in input.steps or []])
        async with c.pool.acquire() as conn, conn.transaction():
            await store.save_flow_override(conn, c.shop, flow.key, input.enabled, changes)
            overrides = await store.flow_overrides(conn, c.shop)
        return NotificationFlow.of(flows.effective(flow, overrides.get(flow.key)))

    @strawberry.mutation(description="Admin: the shop's notification settings; absent fields keep their value.")
    async def configure_notifications(self, info: Info, input: NotificationSettingsInput) -> NotificationSettings:
        c = ctx(info)
        c.principal.require_admin()
        values = validation.shop_settings(strawberry.asdict(input))
        async with c.pool.acquire() as conn, conn.transaction():
            row = await store.save_shop_settings(conn, c.shop, values)
        return NotificationSettings.from_row(row)

    @strawberry.mutation(description="Admin: add or change an outbound webhook endpoint (signed POSTs of events).")
    async def upsert_webhook_endpoint(self, info: Info, input: WebhookEndpointInput) -> WebhookEndpoint:
        c = ctx(info)
        c.principal.require_admin()
        endpoint_id = None
        if input.id is not None:
            try:
                endpoint_id = str(uuid.UUID(str(input.id)))
            except ValueError as exc:
                raise NotFound("unknown webhook endpoint", field="id") from exc
        validation.webhook_endpoint(input.url, input.secret, input.event_types, webhooks.EVENT_TYPES,
                                    new=endpoint_id is None)
        async with c.pool.acquire() as conn, conn.transaction():
            row = await store.save_webhook_endpoint(conn, c.shop, endpoint_id, url=input.url, secret=input.secret,
                                                    event_types=sorted(set(input.event_types)), enabled=input.enabled)
        if row is None:
            raise NotFound("unknown webhook endpoint", field="id")
        return WebhookEndpoint.from_row(row)

    @strawberry.mutation(description="Admin: tell the customer honestly that an order is late (once per message).")
    async def notify_order_delay(self, info: Info, order_id: strawberry.ID, message: str | None = None) -> bool:
        c = ctx(info)
        c.principal.require_admin()
        order_id = external_id(order_id, "orderId")
        note = (message or "").strip()
        if len(note) > MESSAGE_MAX:
            raise BadUserInput(f"message must be at most {MESSAGE_MAX} characters", field="message")
        async with c.pool.acquire() as conn, conn.transaction():
            order = await store.order(conn, c.shop, order_id)
            if order is None:
                raise NotFound(f"unknown order {order_id}", field="orderId")
            data = {"shop": c.shop, "order_id": order_id, "customer_id": order["customer_id"], "message": note,
                    "message_hash": variables.message_hash(note)}
            try:
                await automation.run(conn, c.shop, flows.ORDER_DELAY, data, datetime.now(UTC))
            except automation.ContactNotYetKnown as exc:
                raise NotFound("the order's customer is not known to notifications yet") from exc
        return True


schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    types=[Customer],
    extensions=EXTENSIONS,
    federation_version="2.9",
)
