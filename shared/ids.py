"""Identifiers that come from outside (the commerce platform's ids, idempotency keys)."""

from shared.errors import BadUserInput

ID_MAX = 200


def external_id(value: str, field: str, limit: int = ID_MAX) -> str:
    """An id as the caller sent it: 1..limit printable characters, surrounding spaces dropped."""
    value = (value or "").strip()
    if not value or len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadUserInput(f"{field} must be 1–{limit} printable characters", field=field)
    return value
