"""Pooled connections go back without a reset (shared/db.py, PooledConnection), which is safe only
while no code leaves session state on one: no session-level advisory lock, no LISTEN, no SET outside
a transaction. The exceptions run on connections of their own (asyncpg.connect), never the pool's."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SESSION_STATE = {
    "session advisory lock": re.compile(r"pg_advisory_lock\("),
    "LISTEN": re.compile(r"\badd_listener\(|[\"']LISTEN "),
    "session setting": re.compile(r"[\"']SET (?!LOCAL\b)|set_config\([^)]*false"),
}
# Each on a connection of its own: the migrations' lock (shared/db.py, migrate) and the outbox's
# LISTEN (shared/outbox.py, _listen).
OWN_CONNECTIONS = {("shared/db.py", "session advisory lock"), ("shared/outbox.py", "LISTEN")}


def session_state(root: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted([*root.glob("services/**/*.py"), *root.glob("shared/**/*.py")]):
        text = path.read_text()
        for what, pattern in SESSION_STATE.items():
            if pattern.search(text):
                found.append((str(path.relative_to(root)), what))
    return found


def test_no_code_leaves_session_state_on_a_pooled_connection():
    assert set(session_state(ROOT)) <= OWN_CONNECTIONS, session_state(ROOT)


def test_the_check_finds_session_state(tmp_path):
    (tmp_path / "services" / "x").mkdir(parents=True)
    (tmp_path / "services" / "x" / "store.py").write_text('await conn.execute("SET statement_timeout = 0")\n')
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "bus.py").write_text('await conn.execute("SELECT pg_advisory_lock($1)", 1)\n')
    assert session_state(tmp_path) == [("services/x/store.py", "session setting"),
                                       ("shared/bus.py", "session advisory lock")]
