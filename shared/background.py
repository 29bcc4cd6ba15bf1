"""Long-running loops of a service process (outbox relay, scheduler workers), started in the
lifespan and cancelled on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


class BackgroundLoops:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def spawn(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(loop, name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
