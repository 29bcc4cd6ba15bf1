"""Errors a caller may see. Each carries an `extensions.code` of docs/api.md ("Error codes"); anything else that
escapes a resolver is masked as INTERNAL_SERVER_ERROR (see shared/graphql.py)."""

from __future__ import annotations

from typing import Any


class FlywheelError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **extra}


class Unauthenticated(FlywheelError):
    code = "UNAUTHENTICATED"


class Forbidden(FlywheelError):
    code = "FORBIDDEN"


class BadUserInput(FlywheelError):
    code = "BAD_USER_INPUT"


class NotFound(FlywheelError):
    code = "NOT_FOUND"


class Conflict(FlywheelError):
    code = "CONFLICT"


class InsufficientPoints(FlywheelError):
    code = "INSUFFICIENT_POINTS"


class RateLimited(FlywheelError):
    code = "RATE_LIMITED"


class Unavailable(FlywheelError):
    """Something the request needs is unreachable for a moment (the service's database restarting):
    retry after `retryAfter` seconds. Every mutation is idempotent on its ids and keys."""
    code = "UNAVAILABLE"
