"""Exact money: Decimal only, validated against the currency's minor unit. Never a float."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from shared.errors import BadUserInput

# ISO 4217 minor units that differ from 2; every other well-formed code is taken as 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "HUF": 2, "BHD": 3, "KWD": 3,
                "JOD": 3, "OMR": 3, "TND": 3}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = Decimal("1000000000")  # a billion per order is beyond any shop we serve


def currency_code(value: str) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise BadUserInput("currency must be a three-letter ISO 4217 code like EUR", field="currency")
    return value


def minor_unit(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def in_minor_units(amount: Decimal, currency: str) -> Decimal:
    """The amount as the currency writes it: 57.4000 EUR -> 57.40."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)))


def parse_amount(value: str | None, field: str, currency: str, *, default: Decimal | None = None) -> Decimal:
    """Parse a non-negative decimal string with at most the currency's number of decimals."""
    if value is None:
        if default is None:
            raise BadUserInput(f"{field} is required", field=field)
        return default
    if not isinstance(value, str) or len(value) > 32:
        raise BadUserInput(f"{field} must be a decimal string like \"12.50\"", field=field)
    try:
        amount = Decimal(value.strip())
    except InvalidOperation as exc:
        raise BadUserInput(f"{field} must be a decimal string like \"12.50\"", field=field) from exc
    if not amount.is_finite():
        raise BadUserInput(f"{field} must be a finite number", field=field)
    if amount < 0:
        raise BadUserInput(f"{field} must not be negative", field=field)
    if amount > MAX_AMOUNT:
        raise BadUserInput(f"{field} is too large", field=field)
    places = minor_unit(currency)
    if -amount.as_tuple().exponent > places:  # type: ignore[operator]
        raise BadUserInput(f"{field} has more than {places} decimals for {currency}", field=field)
    return in_minor_units(amount, currency)
