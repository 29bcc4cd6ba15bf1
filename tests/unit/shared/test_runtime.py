"""A service process's concurrency limit (shared/runtime.py): /graphql requests past the limit are
refused at once (503, Retry-After, UNAVAILABLE); other routes and freed slots are unaffected."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shared.runtime import ConcurrencyLimit, max_concurrent


def blocking_app(release: asyncio.Event, started: list[str], two_in: asyncio.Event):
    async def app(scope, receive, send):
        started.append(scope["path"])
        if len(started) == 2:
            two_in.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"data": {}}'})
    return app


async def test_requests_past_the_limit_are_refused_at_once_and_slots_come_back():
    release, started, two_in = asyncio.Event(), [], asyncio.Event()
    limited = ConcurrencyLimit(blocking_app(release, started, two_in), limit=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://svc") as client:
        held = [asyncio.create_task(client.post("/graphql", json={})) for _ in range(2)]
        await asyncio.wait_for(two_in.wait(), timeout=5)
        refused = await asyncio.wait_for(client.post("/graphql", json={}), timeout=1)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        health = asyncio.create_task(client.get("/healthz"))  # not /graphql: never refused
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held, health)] == [200, 200, 200]
        assert (await client.post("/graphql", json={})).status_code == 200


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("SUBGRAPH_MAX_CONCURRENT", raising=False)
    assert max_concurrent() == 32
    monkeypatch.setenv("SUBGRAPH_MAX_CONCURRENT", "8")
    assert max_concurrent() == 8
    monkeypatch.setenv("SUBGRAPH_MAX_CONCURRENT", "0")
    with pytest.raises(RuntimeError):
        max_concurrent()


def test_the_startup_heap_is_frozen_and_later_objects_are_still_collected():
    import gc
    import weakref

    from shared.runtime import freeze_startup_heap

    class Made:
        pass

    try:
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 0
        later = Made()
        later.cycle = later  # only a collection can free a cycle
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None  # made after the freeze: collected as before
    finally:
        gc.unfreeze()
