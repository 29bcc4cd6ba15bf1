"""The notifications subgraph's GraphQL types: the delivery log, preferences, flows, settings and
merchant webhooks, each with its mapping from a row or a flow (the resolvers are in schema.py)."""

from __future__ import annotations

from datetime import datetime, time
from enum import Enum
from typing import Any

import asyncpg
import strawberry

from services.notifications import flows, policy


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


def _hhmm(value: time | None) -> str | None:
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
        return cls(email=agreed["EMAIL"], sms=agreed["SMS"], whatsapp=agreed["WHATSAPP"], phone=policy.phone(row),
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
    offer_source: str | None = strawberry.field(default=None, description=(
        "The offer the message carries, asked of the points program when it is due (its value and lifetime "
        "are the program's default for this source: configureProgram); null: none, or it comes with the event."))
    offer_step: int | None = strawberry.field(default=None, description=(
        "WINBACK: the day of the series whose default applies (120, 135)."))


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
                                   channels=[NotificationChannel(c) for c in s.channels],
                                   offer_source=s.asks.source if s.asks else None,
                                   offer_step=s.asks.step if s.asks else None) for s in f.steps],
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
        def get(key: str) -> Any:
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
