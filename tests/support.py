"""Small helpers the test tiers share."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T] | T], *, timeout: float = 20.0, interval: float = 0.1,
                     what: str = "condition") -> T:
    """Poll a probe (sync or async) until it returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        last = probe()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        await asyncio.sleep(interval)
