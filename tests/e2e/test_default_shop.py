"""The suite never writes into the default shop: that one is the developer's (the README's quickstart
runs there, the dev keys ADMIN_API_KEY and INGEST_API_KEY belong to it). tests/stack.py counts the
default shop's rows in every table of every service when the suite first reaches the stack; this test
runs last (tests/conftest.py puts it there) and finds the same counts. On a fresh stack (CI) that means
an empty default shop: its catalog is the starter one, answered without a row."""

from __future__ import annotations

from tests import stack as running
from tests.stack import default_shop_rows


async def test_the_suite_wrote_nothing_into_the_default_shop(stack):
    before = running.DEFAULT_SHOP_BEFORE
    assert before is not None
    after = await default_shop_rows()
    written = {table: (before.get(table, 0), after.get(table, 0)) for table in before.keys() | after.keys()
               if after.get(table, 0) != before.get(table, 0)}
    assert not written, f"rows of shop {running.DEFAULT_SHOP!r} changed during the run (before, after): {written}"
