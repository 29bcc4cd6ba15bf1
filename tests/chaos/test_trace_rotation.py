"""stack.sh moves a stopped service's oversized trace file aside (rotate-traces; `up` does it before
starting the services), and never the file of a service that is running: its instances keep appending
to the file they opened."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.stack import ensure_stack

pytestmark = pytest.mark.chaos
STACK = str(ROOT / "infra/local/stack.sh")


def rotate(trace_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRACE_DIR": str(trace_dir), "TRACE_KEEP_MB": "1"}
    return subprocess.run([STACK, "rotate-traces"], env=env, capture_output=True, text=True, check=True)


def test_only_a_stopped_services_oversized_trace_file_is_moved_aside(tmp_path):
    ensure_stack()
    for name, size in [("notifications", 2), ("points", 2), ("reviews", 1)]:  # MB; the limit is 1 MB
        with open(tmp_path / f"{name}.jsonl", "wb") as out:
            out.truncate(size * 1024 * 1024 + (1 if name != "reviews" else 0))
    (tmp_path / "notifications.jsonl.1").write_text("the older one\n")
    subprocess.run([STACK, "stop", "notifications"], check=True)
    try:
        result = rotate(tmp_path)
    finally:
        subprocess.run([STACK, "start", "notifications"], check=True)
    files = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert files == {"notifications.jsonl.1": 2 * 1024 * 1024 + 1,  # moved, the older one dropped
                     "points.jsonl": 2 * 1024 * 1024 + 1,  # points is running: kept
                     "reviews.jsonl": 1024 * 1024}, files  # at the limit, not over it: kept
    assert "points: trace file over 1 MB, kept (the service is running)" in result.stderr
