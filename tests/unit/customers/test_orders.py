"""Orders as the platform reports them: parsing, net amounts and status transitions."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.customers.orders import change_status, net_amount, new_order
from shared.errors import BadUserInput, Conflict

PLACED_AT = datetime(2026, 11, 1, 12, tzinfo=UTC)


def order(**over):
    base = dict(id="o-1", customer_id="c-1", currency="EUR", lines=[("p-1", 2, "25.00")],
                discount_total="5.00", shipping_total="4.90", tax_total="7.50", total="57.40",
                placed_at=PLACED_AT)
    return new_order(**{**base, **over})


def test_net_amount_excludes_shipping_tax_and_refunds():
    o = order()
    assert net_amount(o.total, o.shipping_total, o.tax_total) == Decimal("45.00")
    assert net_amount(o.total, o.shipping_total, o.tax_total, Decimal("10")) == Decimal("35.00")
    assert net_amount(Decimal("5"), Decimal("5"), Decimal("0"), Decimal("3")) == Decimal("0")


@pytest.mark.parametrize("over, field", [
    ({"total": "-1"}, "total"),
    ({"total": "1e12"}, "total"),
    ({"total": "12.345"}, "total"),
    ({"total": "NaN"}, "total"),
    ({"total": "abc"}, "total"),
    ({"currency": "euro"}, "currency"),
    ({"lines": []}, "lines"),
    ({"lines": [("p", 0, "1.00")]}, "quantity"),
    ({"id": "x" * 201}, "id"),
    ({"customer_id": ""}, "customerId"),
    ({"shipping_total": "60.00"}, "total"),
    ({"placed_at": datetime(2026, 11, 1, 12)}, "placedAt"),
])
def test_bad_orders_are_refused_with_the_field(over, field):
    with pytest.raises(BadUserInput) as err:
        order(**over)
    assert err.value.extensions["field"].endswith(field)


def test_yen_has_no_minor_unit():
    assert order(currency="JPY", lines=[("p", 1, "1000")], total="1000", discount_total=None,
                 shipping_total=None, tax_total=None).total == Decimal("1000")
    with pytest.raises(BadUserInput):
        order(currency="JPY", total="1000.5")


def test_the_happy_path_of_an_order():
    total, zero = Decimal("100"), Decimal(0)
    step = change_status("PLACED", "PAID", total=total, refunded_total=zero, refunded_amount=None)
    assert (step.status, step.event) == ("PAID", "order.paid")
    step = change_status("PAID", "SHIPPED", total=total, refunded_total=zero, refunded_amount=None)
    assert step.event == "order.shipped"
    step = change_status("SHIPPED", "DELIVERED", total=total, refunded_total=zero, refunded_amount=None)
    assert step.event == "order.delivered"


def test_repeating_a_status_changes_nothing():
    step = change_status("PAID", "PAID", total=Decimal(10), refunded_total=Decimal(0), refunded_amount=None)
    assert step.event is None and step.status == "PAID"


@pytest.mark.parametrize("current, requested", [
    ("PLACED", "SHIPPED"), ("PLACED", "DELIVERED"), ("DELIVERED", "PAID"), ("CANCELLED", "PAID"),
    ("REFUNDED", "PAID"), ("SHIPPED", "CANCELLED"), ("PLACED", "REFUNDED"),
])
def test_invalid_transitions_conflict(current, requested):
    with pytest.raises(Conflict):
        change_status(current, requested, total=Decimal(10), refunded_total=Decimal(0), refunded_amount=None)


def test_partial_then_full_refund_is_cumulative():
    total = Decimal("100")
    step = change_status("DELIVERED", "REFUNDED", total=total, refunded_total=Decimal(0),
                         refunded_amount=Decimal("30"))
    assert (step.status, step.refunded_total, step.event) == ("DELIVERED", Decimal("30"), "order.refunded")
    again = change_status("DELIVERED", "REFUNDED", total=total, refunded_total=Decimal("30"),
                          refunded_amount=Decimal("30"))
    assert again.event is None
    with pytest.raises(Conflict):
        change_status("DELIVERED", "REFUNDED", total=total, refunded_total=Decimal("30"),
                      refunded_amount=Decimal("20"))
    with pytest.raises(BadUserInput):
        change_status("DELIVERED", "REFUNDED", total=total, refunded_total=Decimal("30"),
                      refunded_amount=Decimal("101"))
    full = change_status("DELIVERED", "REFUNDED", total=total, refunded_total=Decimal("30"), refunded_amount=None)
    assert (full.status, full.refunded_total) == ("REFUNDED", total)


def test_refunded_amount_only_with_refunded_status():
    with pytest.raises(BadUserInput):
        change_status("PLACED", "PAID", total=Decimal(10), refunded_total=Decimal(0), refunded_amount=Decimal(1))
