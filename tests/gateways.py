"""Extra processes a test starts in a mode the stack's own do not run in (production, persisted
operations only, other limits), on spare ports, beside the running stack: a second gateway in front
of the same subgraphs, or a second instance of one service (same database and queues)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.stack import SERVICES, port

START_TIMEOUT = 90  # seconds; the gateway compiles its TypeScript config at start, slow on a busy box


def log_since(path: Path) -> Callable[[], str]:
    """What is written to the log at `path` from now on: call the result to read it."""
    start = path.stat().st_size if path.exists() else 0
    return lambda: path.read_bytes()[start:].decode(errors="replace") if path.exists() else ""


def gateway_log(name: str) -> Path:
    """The log of gateway_process(name) / started_gateway(name)."""
    return ROOT / ".run" / "logs" / f"gateway-{name}.log"


def spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gateway_process(name: str, **settings: str) -> Iterator[str]:
    """Run gateway/start.sh with the stack's settings plus `settings`; yield its /graphql URL.
    Its log goes to .run/logs/gateway-<name>.log."""
    with started_gateway(name, **settings) as (url, _):
        yield url


@contextmanager
def started_gateway(name: str, **settings: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """gateway_process, yielding the process too (its own session: signal it with os.killpg)."""
    gateway_port = spare_port()
    env = {f"{service.upper()}_URL": f"http://127.0.0.1:{port(service)}/graphql" for service in SERVICES}
    env.update(settings, GATEWAY_PORT=str(gateway_port), NO_COLOR="1")
    with _running(f"gateway-{name}", ["bash", str(ROOT / "gateway" / "start.sh")], env,
                  f"http://127.0.0.1:{gateway_port}/readiness") as process:
        yield f"http://127.0.0.1:{gateway_port}/graphql", process


@contextmanager
def service_process(name: str, service: str, **settings: str) -> Iterator[str]:
    """Run one more instance of `service` (uvicorn, as infra/local/stack.sh does) with the stack's
    settings plus `settings`, on a spare port; yield its base URL. Log: .run/logs/<name>.log."""
    service_port = spare_port()
    command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "uvicorn", f"services.{service}.app:app",
               "--host", "127.0.0.1", "--port", str(service_port), "--no-access-log"]
    env = {**settings, f"{service.upper()}_PORT": str(service_port), "SERVICE_NAME": service}
    with _running(name, command, env, f"http://127.0.0.1:{service_port}/readyz"):
        yield f"http://127.0.0.1:{service_port}"


@contextmanager
def _running(name: str, command: list[str], settings: dict[str, str], ready_url: str
             ) -> Iterator[subprocess.Popen]:
    log_path = ROOT / ".run" / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, env={**os.environ, **settings}, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_ready(process, ready_url, log_path)
        yield process
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    _stop(process)
    raise RuntimeError(f"not ready after {START_TIMEOUT}s ({url}); see {log_path}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: nothing else of ours is in it
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
