from decimal import Decimal

import pytest

from services.points.offers import discounts
from services.points.offers.discounts import Cart, discount
from shared.errors import BadUserInput

D = Decimal


def cart(subtotal: str, shipping: str = "0", currency: str = "EUR") -> Cart:
    return discounts.cart(currency=currency, subtotal=subtotal, shipping_total=shipping, customer_id=None,
                          lines=None)


@pytest.mark.parametrize("kind, value, subtotal, shipping, expected, free", [
    ("PERCENTAGE", D(20), "20.00", "0", D("4.00"), False),
    ("PERCENTAGE", D(10), "19.99", "0", D("2.00"), False),  # 1.999 rounds half up to the cent
    ("PERCENTAGE", D(15), "0.03", "0", D("0.00"), False),  # 0.0045 → 0.00
    ("PERCENTAGE", D(15), "0.10", "0", D("0.02"), False),  # 0.015 → 0.02 (half up, not to even)
    ("PERCENTAGE", D("12.5"), "33.33", "0", D("4.17"), False),  # 4.16625
    ("PERCENTAGE", D(100), "57.40", "4.90", D("57.40"), False),  # never more than the goods
    ("FIXED_AMOUNT", D(5), "20.00", "0", D("5.00"), False),
    ("FIXED_AMOUNT", D(25), "20.00", "4.90", D("20.00"), False),  # never more than the cart
    ("STORE_CREDIT", D("7.50"), "3.10", "0", D("3.10"), False),
    ("FREE_SHIPPING", None, "20.00", "4.90", D("4.90"), True),
    ("FREE_SHIPPING", None, "20.00", "0", D("0.00"), True),
    ("FREE_PRODUCT", None, "20.00", "0", D("0.00"), False),
    ("FREE_PRODUCT", D("12.00"), "8.00", "0", D("8.00"), False),
])
def test_the_discount_on_a_cart_is_exact_and_never_more_than_the_cart(kind, value, subtotal, shipping, expected,
                                                                       free):
    got = discount(kind, value, cart(subtotal, shipping))
    assert (got.amount, got.free_shipping) == (expected, free)
    assert got.amount <= D(subtotal) + D(shipping)
    assert str(got.amount) == str(expected)  # the currency's minor unit, no more digits


def test_currencies_round_to_their_own_minor_unit():
    assert discount("PERCENTAGE", D(10), cart("1999", currency="JPY")).amount == D(200)  # 199.9 → 200 yen
    assert str(discount("PERCENTAGE", D(10), cart("1.005", currency="KWD")).amount) == "0.101"  # 0.1005 → 0.101


@pytest.mark.parametrize("over", [
    {"subtotal": "-1"}, {"subtotal": "abc"}, {"subtotal": "1e30"}, {"subtotal": "NaN"}, {"subtotal": "Infinity"},
    {"subtotal": "1000000000.01"}, {"subtotal": "20.001"}, {"subtotal": "1" * 40}, {"subtotal": ""},
    {"shipping_total": "-4.90"}, {"currency": "eur"}, {"currency": "EURO"}, {"currency": ""},
    {"customer_id": " "}, {"customer_id": "x" * 201},
    {"lines": [("p", 0, "1.00")]}, {"lines": [("p", 1, "-1.00")]}, {"lines": [("", 1, "1.00")]},
    {"lines": [("p", 1, "1.00")] * 501},
])
def test_a_cart_that_cannot_be_is_bad_input(over):
    args = {"currency": "EUR", "subtotal": "20.00", "shipping_total": None, "customer_id": None, "lines": None,
            **over}
    with pytest.raises(BadUserInput):
        discounts.cart(**args)


def test_a_valid_cart():
    c = discounts.cart(currency="EUR", subtotal="20", shipping_total=None, customer_id=" c-1 ",
                       lines=[("p-mug", 2, "10.00")])
    assert (c.subtotal, c.shipping, c.customer_id, c.lines[0].unit_price) == (D("20.00"), D(0), "c-1", D("10.00"))
