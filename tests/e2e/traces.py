"""The lines the services wrote to their trace files (TRACE_DIR/<service>.jsonl) since the current
test began. The files live as long as the dev stack (stack.sh moves one aside only past
TRACE_KEEP_MB, at `up`), and the tests read them on every poll of `eventually`: read whole, a
long-lived stack's file of up to that size is read again each time. A test looks only for traces it
started itself, and a span reaches its file after the request that made it, so what the file held
before the test can be skipped."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import ROOT

_start: dict[str, int] = {}


def _path(service: str) -> Path:
    return Path(os.environ.get("TRACE_DIR", ROOT / ".run" / "traces")) / f"{service}.jsonl"


def mark(services: tuple[str, ...] = ("customers", "points", "referrals", "reviews", "notifications")) -> None:
    """Remember where each file ends now (tests/e2e/conftest.py, before every test)."""
    for service in services:
        try:
            _start[service] = _path(service).stat().st_size
        except FileNotFoundError:
            _start[service] = 0


def lines(service: str, containing: str) -> list[str]:
    """The whole lines written since the mark that contain `containing` (a span being written, the
    last line without its newline yet, is left for the next poll)."""
    try:
        with open(_path(service), "rb") as f:
            start = _start.get(service, 0)
            if os.fstat(f.fileno()).st_size < start:  # moved aside since: the new file is all new
                start = 0
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return []
    written = data[:data.rfind(b"\n") + 1].decode()
    return [line for line in written.splitlines() if containing in line]
