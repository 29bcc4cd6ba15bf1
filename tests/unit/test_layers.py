"""The layers of every service (README, "Where things live"): a schema module opens no transaction,
and a store module only runs SQL: it opens no transaction and imports no rule, use case, outbox,
schedule or events module. Read from the source, so a new module of any service is held to it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
SERVICES = ("customers", "points", "referrals", "reviews", "notifications")
# Plumbing a store may not use: events are chosen, written and scheduled by use cases.
NOT_FOR_STORES = {"shared.outbox", "shared.schedule", "shared.events", "shared.handlers", "shared.inbox", "shared.bus"}
OPENING = {"transaction", "acquire"}  # pool.acquire(), conn.transaction(), shared.db.transaction()


def _modules(service: str, layer: str) -> list[Path]:
    """`<layer>.py`, `<layer>_<area>.py` and everything in a `<layer>/` package, at any depth of the
    service (points keeps its parts in loyalty/ and challenges/)."""
    found = []
    for path in sorted((SERVICES_DIR / service).rglob("*.py")):
        name = path.relative_to(SERVICES_DIR / service)
        if path.stem == layer or path.stem.startswith(f"{layer}_") or layer in name.parts[:-1]:
            found.append(path)
    return found


def _imports(tree: ast.AST) -> set[str]:
    """What a module imports, by full name: `import a.b` as `a.b`, `from a import b` as `a.b` (the
    services import their modules that way, and `from shared.db import transaction` names a function)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _opens(tree: ast.AST) -> set[str]:
    """The names of calls that open a transaction or take a pooled connection."""
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name in OPENING:
                called.add(name)
    return called


def _within(name: str, modules: set[str]) -> bool:
    return any(name == m or name.startswith(f"{m}.") for m in modules)


def _is_store(name: str) -> bool:
    return name.endswith(".store") or ".store." in name


@pytest.mark.parametrize("service", SERVICES)
def test_schema_modules_open_no_transaction(service):
    schemas = _modules(service, "schema")
    assert schemas, f"{service} has no schema module"
    for path in schemas:
        tree = ast.parse(path.read_text())
        assert not _opens(tree), f"{path.relative_to(SERVICES_DIR)} opens a transaction: a use case does"
        assert "shared.db.transaction" not in _imports(tree), path.relative_to(SERVICES_DIR)


@pytest.mark.parametrize("service", SERVICES)
def test_store_modules_only_run_sql(service):
    stores = _modules(service, "store")
    assert stores, f"{service} has no store module"
    for path in stores:
        where = path.relative_to(SERVICES_DIR)
        tree = ast.parse(path.read_text())
        assert not _opens(tree), f"{where} opens a transaction: the use case that calls it does"
        imported = _imports(tree)
        plumbing = sorted(m for m in imported if _within(m, NOT_FOR_STORES))
        assert not plumbing, f"{where} imports {plumbing}: the use case writes events and jobs"
        # Of the services, a store imports other store modules only: no rule, no use case.
        others = sorted(m for m in imported if m.startswith("services.") and not _is_store(m))
        assert not others, f"{where} imports {others}: a store takes plain values, rules stay out"
