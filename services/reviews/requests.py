"""D+7 review requests: when one is due, and how its schedule job is keyed (its kind is
reviewing.REQUEST_JOB).

The delay is the shop's (settings.py, `configureReviews(requestDelayDays)`, default 7 days), counted
from when the order was delivered. One request per customer and product: buying the same thing again
does not nag twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote


def due_at(delivered_at: datetime, after: timedelta) -> datetime:
    return delivered_at + after


def customer_prefix(customer_id: str) -> str:
    # Quoting keeps '/' out of the parts, so one customer's prefix never matches another's.
    return quote(customer_id, safe="") + "/"


def job_key(customer_id: str, product_id: str) -> str:
    return customer_prefix(customer_id) + quote(product_id, safe="") + "/"
