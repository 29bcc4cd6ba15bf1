"""A gateway told to stop (SIGTERM, as stack.sh and Kubernetes do) ends by itself. The response
cache's invalidation consumer held a broker connection that kept the process alive after Hive had
closed its server, until the SIGKILL: 10 s on every stop in stack.sh, the whole grace period in a pod."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

from tests.gateways import gateway_log, log_since, started_gateway
from tests.support import eventually

BOUND = "invalidation consumer bound"
# Well under the 10 s after which stack.sh and tests/gateways.py send SIGKILL.
ENDS_WITHIN_SECONDS = 8


async def test_a_gateway_ends_on_sigterm_with_its_broker_connection_open(stack):
    written = log_since(gateway_log("sigterm"))
    with started_gateway("sigterm") as (_, process):
        async def consuming() -> bool:
            return BOUND in written()
        await eventually(consuming, timeout=30, interval=0.2, what="the cache's consumer connected")

        os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, ENDS_WITHIN_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {ENDS_WITHIN_SECONDS} s after SIGTERM") from None
        assert process.returncode == 0  # ended as asked, not by a signal (SIGKILL: -9)
