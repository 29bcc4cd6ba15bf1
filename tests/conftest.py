"""Test set-up shared by every tier.

Unit tests need nothing running. Integration and end-to-end tests talk to the real PostgreSQL,
RabbitMQ, services and gateway that `make test` starts (infra/local/stack.sh up) — or that a
developer's `make up` already runs. The settings come from .env (or the committed dev defaults).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_env() -> None:
    path = ROOT / ".env" if (ROOT / ".env").exists() else ROOT / ".env.example"
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            os.environ.setdefault(key.strip(), value.strip())
    # Tests write their own spans next to the services' ones.
    os.environ.setdefault("TRACE_DIR", str(ROOT / ".run" / "traces"))


_load_env()


LAST = "tests/e2e/test_default_shop.py"


def pytest_collection_modifyitems(session, config, items) -> None:
    """The check that the suite wrote nothing into the default shop runs after everything else."""
    items.sort(key=lambda item: item.nodeid.startswith(LAST))
