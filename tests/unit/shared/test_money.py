from decimal import Decimal

import pytest

from shared.errors import BadUserInput
from shared.money import currency_code, parse_amount


def test_parse_amount_is_exact():
    assert parse_amount("0.10", "x", "EUR") + parse_amount("0.20", "x", "EUR") == Decimal("0.30")
    assert str(parse_amount("12.5", "x", "EUR")) == "12.50"
    assert str(parse_amount("3.125", "x", "BHD")) == "3.125"
    assert parse_amount(None, "x", "EUR", default=Decimal(0)) == 0


@pytest.mark.parametrize("value", ["-0.01", "1.001", "Infinity", "", " ", "1,00", "1e10", "9" * 40])
def test_parse_amount_refuses(value):
    with pytest.raises(BadUserInput):
        parse_amount(value, "x", "EUR")


@pytest.mark.parametrize("code", ["eur", "EURO", "", "E1R"])
def test_currency_code(code):
    with pytest.raises(BadUserInput):
        currency_code(code)
