"""Where the CPU goes: CPU seconds per part of the stack (each service, the gateway, Postgres,
RabbitMQ, the load generator) over a measured interval, read from /proc. Divided by the requests
served, it says what one request costs each part — on a 2-core machine the sum is the ceiling."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import ROOT

TICKS = os.sysconf("SC_CLK_TCK")
RUN = ROOT / ".run"


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used by the process itself)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def cpu_seconds(pid: int) -> float:
    """CPU seconds a process has used itself so far (0 once it is gone)."""
    stat = _stat(pid)
    return stat[1] if stat else 0.0


def _tree(root: int, parents: dict[int, int]) -> set[int]:
    members, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return members


def _rabbitmq_pid() -> int | None:
    node = os.environ.get("RABBITMQ_NODENAME", "flywheel@localhost")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if not (entry / "cmdline").read_bytes().split(b"\0")[0].endswith(b"beam.smp"):
                    continue
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            # The node's name is in its environment (infra/local/rabbitmq.sh sets it), not its arguments.
            if f"RABBITMQ_NODENAME={node}".encode() in environ:
                return int(entry.name)
    return None


def roots() -> dict[str, list[int]]:
    """The root processes of each part. With SCALE=N a service runs as <service>.1 … <service>.N
    (infra/local/stack.sh): its instances count as one part, the service's."""
    found: dict[str, list[int]] = {}
    for pidfile in sorted((RUN / "pids").glob("*.pid")):
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        name, _, instance = pidfile.stem.rpartition(".")
        found.setdefault(name if name and instance.isdigit() else pidfile.stem, []).append(pid)
    try:
        found["postgres"] = [int((RUN / "pg" / "postmaster.pid").read_text().split()[0])]
    except (OSError, ValueError, IndexError):
        pass
    if (rabbit := _rabbitmq_pid()) is not None:
        found["rabbitmq"] = [rabbit]
    found["load generator"] = [os.getpid()]
    return found


def sample() -> dict[str, float]:
    """CPU seconds so far of each part, its child processes included (Postgres backends)."""
    stats = {int(p.name): s for p in Path("/proc").iterdir() if p.name.isdigit() and (s := _stat(int(p.name)))}
    parents = {pid: s[0] for pid, s in stats.items()}
    out = {}
    for name, pids in roots().items():
        running = [pid for pid in pids if pid in stats]
        if running:
            members = set().union(*(_tree(pid, parents) for pid in running))
            out[name] = sum(stats[p][1] for p in members if p in stats)
    return out


class Meter:
    """with Meter() as m: ...; m.per_request(n) -> CPU ms per request by part."""

    def __enter__(self) -> Meter:
        self.before, self.started = sample(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.after, self.elapsed = sample(), time.perf_counter() - self.started

    def per_request(self, requests: int) -> dict[str, float]:
        used = {k: self.after[k] - self.before[k] for k in self.after if k in self.before}
        busy = {k: round(v * 1000 / max(requests, 1), 2) for k, v in sorted(used.items(), key=lambda kv: -kv[1])
                if v > 0.01}
        busy["total"] = round(sum(used.values()) * 1000 / max(requests, 1), 2)
        busy["cores_busy"] = round(sum(used.values()) / self.elapsed, 2)
        return busy
