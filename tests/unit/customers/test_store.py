"""The store only runs SQL, and the SQL it spells out by hand agrees with the rules."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from services.customers import metrics
from services.customers.store import orders, retention

STORE = Path(orders.__file__).parent


def _hours(window: timedelta) -> str:
    return f"interval '{int(window.total_seconds()) // 3600} hours'"


def test_the_windows_written_in_sql_are_the_rules_windows():
    assert orders.WINDOW_SQL == _hours(metrics.ACTIVE_WINDOW)
    assert retention.REORDER_SQL == _hours(metrics.REORDER_WINDOW)


def test_store_modules_import_no_rule_no_outbox_no_schedule_and_open_no_transaction():
    for path in sorted(STORE.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        allowed = {"__future__", "collections.abc", "datetime", "decimal", "typing", "asyncpg", "shared.db",
                   "services.customers.store"}
        assert {m for m in imported if m and not m.startswith("services.customers.store.")} <= allowed, path.name
        calls = {node.func.attr for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
        assert not calls & {"transaction", "acquire"}, path.name
