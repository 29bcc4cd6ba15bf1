"""Offer codes: how they are made and how a typed code is read. Pure: no I/O.

A new code is `FLY-` and 16 symbols of Crockford's base32 (0-9 A-Z without I L O U: nothing to
mistake for 1 or 0), 80 bits from `secrets`, grouped by four for reading: FLY-7K3M-9QXD-2HRB-T4VW.
Codes carried over from the older mechanisms (redemptions, referral friend codes) keep their form.
A code is looked up by its key: upper case, without spaces and dashes, so "fly-7k3m 9qxd…" finds it.
"""

from __future__ import annotations

import re
import secrets

from shared.errors import BadUserInput

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
SYMBOLS = 16  # × 5 bits = 80 bits
GROUP = 4
PREFIX = "FLY"
MAX_LENGTH = 64
_TYPED = re.compile(r"^[A-Za-z0-9 _-]+$")


def new_code() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(SYMBOLS))
    groups = [symbols[i:i + GROUP] for i in range(0, SYMBOLS, GROUP)]
    return "-".join([PREFIX, *groups])


def key(code: str) -> str:
    """The lookup key of a code as someone typed it; BAD_USER_INPUT when it cannot be a code."""
    if not isinstance(code, str) or len(code) > MAX_LENGTH or not _TYPED.match(code):
        raise BadUserInput(f"code must be 1–{MAX_LENGTH} letters, digits, spaces or dashes", field="code")
    normal = code.upper().replace(" ", "").replace("-", "")
    if not normal:
        raise BadUserInput("code is empty", field="code")
    return normal


def entropy_bits() -> float:
    """What a generated code carries: log2(32) × 16."""
    return SYMBOLS * (len(ALPHABET).bit_length() - 1)
