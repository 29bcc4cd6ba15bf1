"""What each trigger gives its templates: the real values of the event (points, the gap to the
next tier, a tracking link), the customer's first name and the shop's links.

`SAMPLES` holds one example payload per trigger; the test suite renders every template of every
flow with the variables computed from them by the same code the engine runs, so a template that
uses a variable its flow does not provide fails the suite, and an admin cannot switch a step to
such a template either.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.notifications.flows import ORDER_DELAY

DEFAULT_STOREFRONT = "http://localhost:3000"


def _money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def _date(value: str) -> str:
    return datetime.fromisoformat(value).date().isoformat()


def _order(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"order_id": d["order_id"], "total": _money(d["total"]), "currency": d["currency"]}


def _tracking(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {**_order(d, links), "tracking_url": links["tracking_url"].format(order_id=d["order_id"])}


def _placed(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {**_order(d, links), "item_count": sum(int(line["quantity"]) for line in d.get("lines") or [])}


def _delivered(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {**_order(d, links), "product_ids": [line["product_id"] for line in d.get("lines") or []]}


def _review(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"order_id": d["order_id"], "product_id": d["product_id"],
            "review_url": f"{links['shop_url']}/products/{d['product_id']}#review"}


def _tier_near(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"next_tier": d["next_tier"], "amount_to_next": _money(d["amount_to_next"]), "currency": d["currency"]}


def _tier_up(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"from_tier": d.get("from_tier") or "", "to_tier": d["to_tier"]}


def _points(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"points": d["points"], "balance": d["balance"]}


def _expiring(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"points": d["points"], "expires_on": _date(d["expires_at"])}


def _referral(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    amount = d.get("reward_amount")
    return {"reward_amount": _money(amount) if amount is not None else "", "reward_points": d.get("reward_points") or 0,
            "currency": d.get("currency") or ""}


def _credit(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"amount": _money(d["amount"]), "balance": _money(d["balance"]), "currency": d["currency"]}


def _challenge(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    out = {"challenge_title": d["title"], "reward_points": d["reward_points"],
           "challenge_url": f"{links['shop_url']}/challenges/{d['challenge_id']}"}
    if "ends_at" in d:
        out["ends_on"] = _date(d["ends_at"])
    if "customer_id" in d:
        out["badge"] = d.get("badge") or ""
    return out


def _delay(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"order_id": d["order_id"], "message": d.get("message") or ""}


def _none(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {}


def _birthday(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"year": d["year"]}


BY_TRIGGER = {
    "order.placed": _placed, "order.shipped": _tracking, "order.delivered": _delivered,
    "review.requested": _review, "customer.segment_changed": _none, "customer.birthday": _birthday,
    "tier.near": _tier_near, "tier.changed": _tier_up, "points.earned": _points, "points.expiring": _expiring,
    "referral.converted": _referral, "credit.granted": _credit, "challenge.launched": _challenge,
    "challenge.completed": _challenge, ORDER_DELAY: _delay,
}


def links_for(storefront_url: str | None, tracking_url: str | None) -> dict[str, str]:
    shop_url = (storefront_url or DEFAULT_STOREFRONT).rstrip("/")
    return {"shop_url": shop_url, "tracking_url": tracking_url or f"{shop_url}/orders/{{order_id}}/tracking"}


def for_message(trigger: str, data: dict[str, Any], links: dict[str, str], step_variables: dict[str, Any]
                ) -> dict[str, Any]:
    """The variables stored with a planned message (the first name is added when it is sent, so
    an erased or renamed customer is never addressed with stale data)."""
    return {"shop_url": links["shop_url"], **BY_TRIGGER[trigger](data, links), **step_variables}


def message_hash(message: str) -> str:
    return hashlib.sha256(message.encode()).hexdigest()[:16]


_ORDER = {"order_id": "1001", "customer_id": "c-1", "currency": "EUR", "total": "57.40", "net_amount": "45.00",
          "placed_at": "2026-11-20T10:00:00+00:00", "shop": "default"}
SAMPLES: dict[str, dict[str, Any]] = {
    "order.placed": {**_ORDER, "lines": [{"product_id": "p-mug", "quantity": 2, "unit_price": "25.00"}]},
    "order.shipped": _ORDER,
    "order.delivered": {**_ORDER, "lines": [{"product_id": "p-mug", "quantity": 2, "unit_price": "25.00"}]},
    "review.requested": {"shop": "default", "customer_id": "c-1", "product_id": "p-mug", "order_id": "1001"},
    "customer.segment_changed": {"shop": "default", "customer_id": "c-1", "from_segment": "REGULAR",
                                 "to_segment": "AT_RISK"},
    "customer.birthday": {"shop": "default", "customer_id": "c-1", "year": 2026},
    "tier.near": {"shop": "default", "customer_id": "c-1", "next_tier": "Gold", "amount_to_next": "20.00",
                  "currency": "EUR"},
    "tier.changed": {"shop": "default", "customer_id": "c-1", "from_tier": "Silver", "to_tier": "Gold",
                     "direction": "up"},
    "points.earned": {"shop": "default", "customer_id": "c-1", "points": 45, "balance": 1045, "reason": "purchase",
                      "source_id": "1001", "pending": False, "origin": "purchase"},
    "points.expiring": {"shop": "default", "customer_id": "c-1", "points": 300,
                        "expires_at": "2026-12-31T00:00:00+00:00"},
    "referral.converted": {"shop": "default", "referral_id": "r-1", "referrer_id": "c-1", "friend_id": "c-2",
                           "order_id": "1001", "reward_kind": "credit", "reward_amount": "20.00", "currency": "EUR"},
    "credit.granted": {"shop": "default", "customer_id": "c-1", "amount": "2.00", "currency": "EUR",
                       "balance": "7.00", "reason": "review", "source_id": "rv-1",
                       "origin": "review"},
    "challenge.launched": {"shop": "default", "challenge_id": "ch-1", "title": "Three photo reviews",
                           "starts_at": "2026-11-01T00:00:00+00:00", "ends_at": "2026-11-30T00:00:00+00:00",
                           "reward_points": 150},
    "challenge.completed": {"shop": "default", "challenge_id": "ch-1", "customer_id": "c-1",
                            "title": "Three photo reviews", "reward_points": 150, "badge": "Photographer"},
    ORDER_DELAY: {"shop": "default", "order_id": "1001", "customer_id": "c-1",
                  "message": "Our supplier is late by a week.", "message_hash": "abc"},
}
