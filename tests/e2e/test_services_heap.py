"""Every running service froze its startup heap (shared/runtime.py, freeze_startup_heap): its full
garbage collections no longer walk the schema, modules and pools it made while starting, which
paused it 70-110 ms at a time under load (README, Benchmarks). Each process says so in its log, with
its pid, once started; the pid tells this start from earlier ones in the same log."""

from __future__ import annotations

import re

from tests.conftest import ROOT

SERVICES = ("customers", "notifications", "points", "referrals", "reviews")
RUN = ROOT / ".run"


def test_every_service_process_froze_its_startup_heap(stack):
    checked = []
    for service in SERVICES:
        pidfiles = sorted(RUN.glob(f"pids/{service}.pid")) + sorted(RUN.glob(f"pids/{service}.[0-9]*.pid"))
        assert pidfiles, f"{service} is not running"
        for pidfile in pidfiles:
            pid = int(pidfile.read_text().split()[0])
            log = (RUN / "logs" / f"{pidfile.stem}.log").read_text(errors="replace")
            found = re.findall(rf"startup heap frozen \(pid {pid}\): (\d+) objects", log)
            assert found and int(found[-1]) > 10_000, f"{pidfile.stem} (pid {pid}) did not freeze its startup heap"
            checked.append(pidfile.stem)
    assert len(checked) >= len(SERVICES)
