"""Referral codes: short enough to type, random enough not to guess. (The friend's offer code is
the points service's: offers.py.)"""

import secrets

# Crockford's base32 alphabet: no I, L, O, U, so a code read aloud or retyped stays unambiguous.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8  # 32^8 ≈ 1.1e12 codes; guessing is also rate-limited at the landing page
ATTEMPTS = 5  # fresh codes drawn when one is taken, before giving up


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normal(code: str) -> str:
    """A code as stored: typed codes are matched without surrounding spaces, in upper case."""
    return code.strip().upper()


def link(base_url: str, code: str) -> str:
    return f"{base_url}{code}"
