from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.points.offers.checks import Terms, refusal, status
from services.points.offers.discounts import Cart

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
OFFER = Terms(status="ACTIVE", customer_id="anna", usage_limit=1, used_count=0, starts_at=NOW - timedelta(days=1),
              expires_at=NOW + timedelta(days=30), currency="EUR", min_order=Decimal(12))
CART = Cart(currency="EUR", subtotal=Decimal("20.00"), shipping=Decimal(0))


def test_an_offer_applies_to_its_customers_cart():
    assert refusal(OFFER, CART, "anna", NOW) is None
    assert refusal(replace(OFFER, customer_id=None), CART, None, NOW) is None  # shareable


@pytest.mark.parametrize("change, cart, who, reason", [
    ({"status": "REVOKED"}, {}, "anna", "REVOKED"),
    ({}, {}, "ben", "WRONG_CUSTOMER"),
    ({}, {}, None, "WRONG_CUSTOMER"),  # a bound code needs its customer named
    ({"used_count": 1}, {}, "anna", "USED"),
    ({"usage_limit": 3, "used_count": 3}, {}, "anna", "USED"),
    ({"expires_at": NOW}, {}, "anna", "EXPIRED"),  # the end is exclusive
    ({"starts_at": NOW + timedelta(seconds=1)}, {}, "anna", "NOT_STARTED"),
    ({}, {"currency": "CHF"}, "anna", "WRONG_CURRENCY"),
    ({}, {"subtotal": Decimal("11.99")}, "anna", "MIN_ORDER"),
])
def test_each_rule_refuses_with_its_reason(change, cart, who, reason):
    assert refusal(replace(OFFER, **change), replace(CART, **cart), who, NOW) == reason


def test_the_minimum_is_inclusive_and_a_used_shareable_code_still_has_uses():
    assert refusal(OFFER, replace(CART, subtotal=Decimal("12.00")), "anna", NOW) is None
    assert refusal(replace(OFFER, customer_id=None, usage_limit=3, used_count=2), CART, "ben", NOW) is None


def test_a_revoked_or_used_code_says_so_before_it_says_expired():
    gone = replace(OFFER, expires_at=NOW - timedelta(days=1))
    assert refusal(replace(gone, status="REVOKED"), CART, "anna", NOW) == "REVOKED"
    assert refusal(replace(gone, used_count=1), CART, "anna", NOW) == "USED"


def test_expired_is_read_from_the_expiry():
    assert status("ACTIVE", NOW, NOW) == "EXPIRED"
    assert status("ACTIVE", NOW + timedelta(seconds=1), NOW) == "ACTIVE"
    assert status("REDEEMED", NOW, NOW) == "REDEEMED" and status("REVOKED", NOW, NOW) == "REVOKED"
