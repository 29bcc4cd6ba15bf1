"""What each trigger gives its templates: the real values of the event (points, the gap to the
next tier, a tracking link), the customer's first name and the shop's links, and the offer a
message carries in the customer's words (its code, value, minimum order and last day).

`SAMPLES` holds one example payload per trigger; the test suite renders every template of every
flow with the variables computed from them by the same code the engine runs, so a template that
uses a variable its flow does not provide fails the suite, and an admin cannot switch a step to
such a template either.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.notifications import policy
from services.notifications.flows import ORDER_DELAY, Flow, Step
from shared.money import minor_unit

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


# What a message keeps of an issued offer (events.OfferFacts), as JSON: the template's words are
# made from it when the message is sent, in the customer's language and time zone.
OFFER_FIELDS = ("offer_id", "code", "kind", "value", "currency", "min_order", "expires_at")


def offer_of(facts: dict[str, Any]) -> dict[str, Any]:
    """The offer as a message keeps it, from an offer.issued payload (JSON form)."""
    return {name: facts.get(name) for name in OFFER_FIELDS}


def _offer_issued(d: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    return {"offer": offer_of(d)}


BY_TRIGGER = {
    "order.placed": _placed, "order.shipped": _tracking, "order.delivered": _delivered,
    "review.requested": _review, "customer.segment_changed": _none, "customer.disengaged": _none,
    "customer.birthday": _birthday,
    "tier.near": _tier_near, "tier.changed": _tier_up, "points.earned": _points, "points.expiring": _expiring,
    "referral.converted": _referral, "credit.granted": _credit, "challenge.launched": _challenge,
    "challenge.completed": _challenge, "offer.issued": _offer_issued, ORDER_DELAY: _delay,
}


def links_for(storefront_url: str | None, tracking_url: str | None) -> dict[str, str]:
    shop_url = (storefront_url or DEFAULT_STOREFRONT).rstrip("/")
    return {"shop_url": shop_url, "tracking_url": tracking_url or f"{shop_url}/orders/{{order_id}}/tracking"}


def for_message(trigger: str, data: dict[str, Any], links: dict[str, str], step_variables: dict[str, Any]
                ) -> dict[str, Any]:
    """The variables stored with a planned message (the first name is added when it is sent, so
    an erased or renamed customer is never addressed with stale data)."""
    return {"shop_url": links["shop_url"], **BY_TRIGGER[trigger](data, links), **step_variables}


def for_template(stored: dict[str, Any], first_name: str | None, locale: str, timezone: str | None
                 ) -> dict[str, Any]:
    """What a template gets when its message is sent: the stored variables, the first name as it is
    now and, for a message with an offer, the offer in the customer's words."""
    values = {**stored, "first_name": first_name}
    if stored.get("offer") is not None:
        values.update(offer_words(stored["offer"], locale, timezone))
    return values


_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_FREE = {"FREE_SHIPPING": {"en": "free shipping", "de": "kostenloser Versand"},
         "FREE_PRODUCT": {"en": "a free product", "de": "ein Gratisprodukt"}}
# What the offer gives, as a phrase the templates put in a sentence ("Come back: …").
_BENEFIT = {
    "en": {"PERCENTAGE": "{value} off your next order", "FIXED_AMOUNT": "{value} off your next order",
           "FREE_SHIPPING": "free shipping on your next order", "FREE_PRODUCT": "a free product with your next order",
           "STORE_CREDIT": "{value} in store credit"},
    "de": {"PERCENTAGE": "{value} Rabatt auf deine nächste Bestellung",
           "FIXED_AMOUNT": "{value} Rabatt auf deine nächste Bestellung",
           "FREE_SHIPPING": "kostenloser Versand für deine nächste Bestellung",
           "FREE_PRODUCT": "ein Gratisprodukt zu deiner nächsten Bestellung", "STORE_CREDIT": "{value} Guthaben"},
}


def _number(value: Decimal, places: int, locale: str) -> str:
    text = f"{value:,.{places}f}"  # 1,234.50
    if locale == "de":
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")  # 1.234,50
    return text


def money_words(amount: Any, currency: str, locale: str) -> str:
    """10,00 € (de) / €10.00 (en); other currencies by their code: 10,00 CHF / CHF 10.00."""
    number = _number(Decimal(str(amount)), minor_unit(currency), locale)
    symbol = _SYMBOLS.get(currency, currency)
    if locale == "de":
        return f"{number} {symbol}"
    return f"{symbol}{number}" if len(symbol) == 1 else f"{symbol} {number}"


def percent_words(value: Any, locale: str) -> str:
    """10 % ; 12,5 % (de) / 12.5 % (en)."""
    number = Decimal(str(value)).normalize()
    places = max(0, -int(number.as_tuple().exponent))
    return f"{_number(number, places, locale)} %"


def date_words(at: datetime, locale: str) -> str:
    return at.strftime("%d.%m.%Y") if locale == "de" else f"{at.day} {_MONTHS_EN[at.month - 1]} {at.year}"


def offer_words(offer: dict[str, Any], locale: str, timezone: str | None) -> dict[str, Any]:
    """An issued offer as its message shows it: `offer_code`, `offer_kind`, `offer_value` ("10 %",
    "free shipping", "10,00 €"), `offer_benefit` ("10 % off your next order"), `offer_min_order` (""
    when there is none) and `offer_expires_on`, its last whole day in the customer's time zone."""
    locale = locale if locale in ("de", "en") else "en"
    kind, currency = offer["kind"], offer.get("currency") or "EUR"
    if kind == "PERCENTAGE":
        value = percent_words(offer["value"], locale)
    elif kind in _FREE:  # a free product's price cap is the checkout's business, not the mail's
        value = _FREE[kind][locale]
    else:  # FIXED_AMOUNT, STORE_CREDIT
        value = money_words(offer["value"], currency, locale)
    minimum = offer.get("min_order")
    # The last day it works all day long in the customer's time zone: a mail never promises more.
    expires = (datetime.fromisoformat(offer["expires_at"]).astimezone(policy.zone(timezone)) - timedelta(days=1))
    return {"offer_code": offer["code"], "offer_kind": kind, "offer_value": value,
            "offer_benefit": _BENEFIT[locale].get(kind, "{value}").format(value=value),
            "offer_min_order": money_words(minimum, currency, locale) if minimum not in (None, "") else "",
            "offer_expires_on": date_words(expires, locale)}


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
    "customer.disengaged": {"shop": "default", "customer_id": "c-1", "score": -30, "threshold": -15,
                            "last_order_at": "2026-09-20T10:00:00+00:00"},
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
    "offer.issued": {"shop": "default", "offer_id": "of-1", "key": "referral:r-1", "code": "FLY-7K3M-9QXD-2HRB-T4VW",
                     "source": "REFERRAL", "kind": "PERCENTAGE", "value": "20.00", "currency": "EUR",
                     "min_order": "12.00", "starts_at": "2026-11-20T10:00:00+00:00",
                     "expires_at": "2026-12-20T10:00:00+00:00", "customer_id": "c-1", "usage_limit": 1,
                     "context": {"referral": "r-1", "opened_by": "signup"}},
    ORDER_DELAY: {"shop": "default", "order_id": "1001", "customer_id": "c-1",
                  "message": "Our supplier is late by a week.", "message_hash": "abc"},
}

# An offer as the points program's defaults issue it, per source a step asks for (what templates
# are checked against before a merchant may choose them); every kind must render too.
SAMPLE_OFFERS: dict[str, dict[str, Any]] = {
    "WINBACK": {"offer_id": "of-2", "code": "FLY-2HRB-T4VW-7K3M-9QXD", "kind": "PERCENTAGE", "value": "10.00",
                "currency": "EUR", "min_order": None, "expires_at": "2026-12-04T10:00:00+00:00"},
    "AT_RISK": {"offer_id": "of-3", "code": "FLY-9QXD-7K3M-T4VW-2HRB", "kind": "FREE_SHIPPING", "value": None,
                "currency": "EUR", "min_order": None, "expires_at": "2026-11-27T10:00:00+00:00"},
    "BIRTHDAY": {"offer_id": "of-4", "code": "FLY-T4VW-2HRB-9QXD-7K3M", "kind": "PERCENTAGE", "value": "10.00",
                 "currency": "EUR", "min_order": None, "expires_at": "2026-12-20T10:00:00+00:00"},
}


def stored_sample(flow: Flow, step: Step, links: dict[str, str]) -> dict[str, Any]:
    """What a message of this step would store, from the trigger's sample (with a sample offer for a
    step that asks for one)."""
    stored = for_message(flow.trigger, SAMPLES[flow.trigger], links, step.variables)
    if step.asks is not None:
        stored["offer"] = SAMPLE_OFFERS[step.asks.source]
    return stored
