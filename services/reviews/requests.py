"""D+7 review requests: when one is due, and how its schedule job is keyed (its kind is
reviewing.REQUEST_JOB).

The delay defaults to 7 days; REVIEW_REQUEST_DELAY_SECONDS overrides it (tests and staging use
seconds). One request per customer and product: buying the same thing again does not nag twice.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from urllib.parse import quote

DEFAULT_DELAY = timedelta(days=7)


def delay(environ: dict[str, str] | None = None) -> timedelta:
    raw = (environ if environ is not None else os.environ).get("REVIEW_REQUEST_DELAY_SECONDS", "")
    if not raw.strip():
        return DEFAULT_DELAY
    seconds = float(raw)
    if seconds < 0:
        raise ValueError("REVIEW_REQUEST_DELAY_SECONDS must not be negative")
    return timedelta(seconds=seconds)


def due_at(delivered_at: datetime, after: timedelta) -> datetime:
    return delivered_at + after


def customer_prefix(customer_id: str) -> str:
    # Quoting keeps '/' out of the parts, so one customer's prefix never matches another's.
    return quote(customer_id, safe="") + "/"


def job_key(customer_id: str, product_id: str) -> str:
    return customer_prefix(customer_id) + quote(product_id, safe="") + "/"
