"""A shop's review settings, in the domain's words: when a delivered product's review request is due
(D+7 by default) and which hosts serve the shop's photos and videos. Pure: no I/O.

Stored as versions, like the points program: every change is a new version (the previous one plus
the fields sent), so what applied when is kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.errors import BadUserInput

MAX_DELAY_DAYS = Decimal(365)
MAX_HOSTS = 20
HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")


@dataclass(frozen=True)
class ReviewSettings:
    version: int = 0  # 0: the defaults, never changed
    request_delay_days: Decimal = Decimal(7)  # a review request is due this long after the delivery
    media_hosts: tuple[str, ...] = ()  # hosts whose URLs count as photos/videos whatever their path

    @property
    def request_delay(self) -> timedelta:
        return timedelta(seconds=float(self.request_delay_days * 86400))

    def to_json(self) -> dict[str, Any]:
        return {"request_delay_days": str(self.request_delay_days), "media_hosts": list(self.media_hosts)}

    @classmethod
    def from_json(cls, version: int, data: dict[str, Any]) -> ReviewSettings:
        return cls(version=version, request_delay_days=Decimal(data.get("request_delay_days", "7")),
                   media_hosts=tuple(data.get("media_hosts", ())))


DEFAULT = ReviewSettings()


def _days(value: str) -> Decimal:
    try:
        days = Decimal(value.strip())
    except InvalidOperation as exc:
        raise BadUserInput("requestDelayDays must be a decimal number of days like \"7\" or \"0.5\"",
                           field="requestDelayDays") from exc
    if not days.is_finite() or not 0 <= days <= MAX_DELAY_DAYS or days != days.quantize(Decimal("0.01")):
        raise BadUserInput(f"requestDelayDays must be 0–{MAX_DELAY_DAYS} with at most two decimals",
                           field="requestDelayDays")
    return days


def _hosts(values: list[str]) -> tuple[str, ...]:
    if len(values) > MAX_HOSTS:
        raise BadUserInput(f"at most {MAX_HOSTS} media hosts", field="mediaHosts")
    hosts = []
    for i, value in enumerate(values):
        host = value.strip().lower().rstrip(".")
        if not HOST.match(host):
            raise BadUserInput(f"mediaHosts[{i}] must be a host name like cdn.example.com", field="mediaHosts")
        hosts.append(host)
    return tuple(dict.fromkeys(hosts))


def changed(current: ReviewSettings, *, request_delay_days: str | None = None,
            media_hosts: list[str] | None = None) -> ReviewSettings:
    """The next version: the current settings with the fields sent, validated."""
    return replace(
        current, version=current.version + 1,
        request_delay_days=current.request_delay_days if request_delay_days is None else _days(request_delay_days),
        media_hosts=current.media_hosts if media_hosts is None else _hosts(media_hosts),
    )
