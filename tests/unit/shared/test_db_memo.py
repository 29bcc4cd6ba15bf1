"""The per-transaction memo as a batch of events sees it: each event's savepoint starts from what the
batch remembers, keeps what it added when it succeeds and leaves no trace when it fails; upkeep put
off with `at_end` runs once per key, after the last step."""

from __future__ import annotations

import pytest

from shared.db import at_end, ending_scope, forget, remembered, savepoint_memo


def loader(value: object):
    calls: list[object] = []

    async def load() -> object:
        calls.append(value)
        return value
    return load, calls


async def test_a_succeeding_savepoint_leaves_what_it_read_and_forgot_to_the_batch() -> None:
    async with ending_scope():
        load, calls = loader("program v1")
        with savepoint_memo():
            assert await remembered("program", load) == "program v1"
        with savepoint_memo():
            assert await remembered("program", load) == "program v1"  # read once for the batch
            forget("program")
        reload, again = loader("program v2")
        assert await remembered("program", reload) == "program v2"
        assert calls == ["program v1"] and again == ["program v2"]


async def test_a_failing_savepoint_leaves_the_batch_memo_as_it_was() -> None:
    async def nothing_held() -> set[str]:
        return set()

    async with ending_scope():
        with savepoint_memo():
            (await remembered("held", nothing_held)).add("account c-1")
        with pytest.raises(RuntimeError), savepoint_memo():
            (await remembered("held", nothing_held)).add("account c-2")  # its lock went with the rollback
            load, _ = loader("read after its own write")
            await remembered("program", load)
            forget("held")
            raise RuntimeError("handler failed")
        assert await remembered("held", nothing_held) == {"account c-1"}
        fresh, calls = loader("read again")
        assert await remembered("program", fresh) == "read again" and calls == ["read again"]


async def test_upkeep_put_off_runs_once_per_key_at_the_end_in_the_order_last_asked() -> None:
    ran: list[str] = []

    def work(name: str):
        async def run() -> None:
            ran.append(name)
        return run

    async with ending_scope():
        await at_end("customer a", work("a"))
        await at_end("customer b", work("b"))
        with savepoint_memo():
            await at_end("customer a", work("a again"))
        with pytest.raises(RuntimeError), savepoint_memo():
            await at_end("customer c", work("c of a rolled-back event"))
            raise RuntimeError
        assert ran == []
    assert ran == ["b", "a again"]


async def test_outside_a_transaction_upkeep_runs_at_once() -> None:
    ran: list[str] = []

    async def work() -> None:
        ran.append("now")
    await at_end("k", work)
    assert ran == ["now"]


async def test_upkeep_that_fails_fails_the_transaction() -> None:
    async def broken() -> None:
        raise ValueError("segment rules missing")

    with pytest.raises(ValueError):
        async with ending_scope():
            await at_end("k", broken)
