"""A second gateway process, started by a test in a mode the stack's own gateway does not run in
(production, persisted operations only), on a spare port, in front of the same subgraphs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import ROOT
from tests.stack import SERVICES, port

START_TIMEOUT = 90  # seconds; the gateway compiles its TypeScript config at start, slow on a busy box


def spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gateway_process(name: str, **settings: str) -> Iterator[str]:
    """Run gateway/start.sh with the stack's settings plus `settings`; yield its /graphql URL.
    Its log goes to .run/logs/gateway-<name>.log."""
    gateway_port = spare_port()
    env = {**os.environ, **settings, "GATEWAY_PORT": str(gateway_port), "NO_COLOR": "1"}
    for service in SERVICES:
        env[f"{service.upper()}_URL"] = f"http://127.0.0.1:{port(service)}/graphql"
    log_path = ROOT / ".run" / "logs" / f"gateway-{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(["bash", str(ROOT / "gateway" / "start.sh")], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_ready(process, gateway_port, log_path)
        yield f"http://127.0.0.1:{gateway_port}/graphql"
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen, gateway_port: int, log_path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    url = f"http://127.0.0.1:{gateway_port}/readiness"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    _stop(process)
    raise RuntimeError(f"gateway not ready after {START_TIMEOUT}s; see {log_path}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: start.sh execs node, nothing else
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
