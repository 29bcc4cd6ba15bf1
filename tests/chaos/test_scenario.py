"""`make chaos` in short: the three faults under a lighter order load, every invariant checked."""

from __future__ import annotations

import pytest

from tests.chaos import scenario

pytestmark = pytest.mark.chaos


async def test_rabbitmq_restart_points_kill_and_postgres_restart_under_load_keep_every_invariant(capsys):
    ok = await scenario.run(rate=1.0, pause=3.0, customers=3)
    printed = capsys.readouterr().out
    print(printed)  # the scenario's own log, shown when the test fails
    assert "fault 3/3: restart Postgres" in printed
    assert ok, "a check failed: see the log above"
