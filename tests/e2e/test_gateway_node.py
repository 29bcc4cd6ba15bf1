"""The gateway the stack started runs on the Node install.sh asks for (24; README, Benchmarks: a
third less gateway CPU per cache miss than the machine's Node 20), also on the first `make up` that
had to install it (stack.sh up puts .run/node first on the PATH again after install.sh)."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT


def test_the_running_gateway_is_on_node_24_or_newer(stack):
    pid = (ROOT / ".run" / "pids" / "gateway.pid").read_text().strip()
    version = subprocess.run([f"/proc/{pid}/exe", "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert int(version.lstrip("v").split(".")[0]) >= 24, version
