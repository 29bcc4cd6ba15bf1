"""Load against a GraphQL endpoint and the figures it yields (req/s, p50, p99): closed loop (workers
that wait for each answer) and open loop (requests at a fixed offered rate, whatever the answers)."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.bench.cpu import Meter

GENERATOR = Path(__file__).with_name("openloop.mjs")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies: list[float], elapsed: float, errors: int) -> dict:
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


Request = Callable[[int], tuple[dict, dict]]  # i -> (json body, headers)


async def load(client: httpx.AsyncClient, url: str, make_request: Request, seconds: float,
               concurrency: int) -> dict:
    """`concurrency` workers each send a request as soon as their previous one answered."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    deadline = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal errors, first_error
        i = n
        while time.perf_counter() < deadline:
            body, headers = make_request(i)
            started = time.perf_counter()
            response = await client.post(url, json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or response.json().get("errors"):
                errors += 1
                first_error = first_error or response.text[:300]
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    result = summary(latencies, time.perf_counter() - started, errors)
    if first_error:
        result["first_error"] = first_error
    return result


async def open_loop(url: str, rate: float, templates: list[str], headers: list[dict],
                    requests: list[list]) -> dict:
    """Requests at a fixed offered rate, each when it is due, whether or not earlier ones have
    answered; a latency counts from when its request was due, so a slow server shows in p99 instead
    of slowing the sender down (no coordinated omission). Sent by tests/bench/openloop.mjs: Node's
    HTTP client costs ~0.03 ms of CPU a request, where an asyncio sender in this process cost ~2.7 ms
    of the same two cores (redeemReward at 50/s, 2026-12-07). `requests`: [template index, headers
    index, variables or None, label] each, in schedule order. The generator's summary (per label and
    per x-flywheel-cache), with the CPU each part of the stack spent per request."""
    plan = {"url": url, "rate": rate, "templates": templates, "headers": headers, "requests": requests}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan, f)
    try:
        with Meter() as meter:
            process = await asyncio.create_subprocess_exec("node", str(GENERATOR), f.name,
                                                           stdout=asyncio.subprocess.PIPE)
            out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"openloop.mjs exited with {process.returncode}")
        result: dict = json.loads(out)
        result["cpu_ms_per_request"] = meter.per_request(len(requests))
        return result
    finally:
        os.unlink(f.name)


def as_summary(result: dict) -> dict:
    """An open loop's figures in the closed loop's shape (`summary`), for the table's rows: refused
    requests (429, 503) count as errors there."""
    every = result["all"]
    out = {"requests": every["requests"], "errors": every["errors"] + every["refused"],
           "requests_per_s": every["achieved_per_s"], "p50_ms": every["p50_ms"], "p99_ms": every["p99_ms"],
           "offered_per_s": result["offered_per_s"], "cpu_ms_per_request": result["cpu_ms_per_request"]}
    if every.get("first_error"):
        out["first_error"] = every["first_error"]
    return out


async def timed(client: httpx.AsyncClient, url: str, body: dict, headers: dict, samples: int) -> dict:
    """One request at a time: how long a single (heavier) query takes."""
    latencies = []
    errors: list[str] = []
    for _ in range(samples):
        started = time.perf_counter()
        response = await client.post(url, json=body, headers=headers)
        latencies.append(time.perf_counter() - started)
        payload = response.json()
        # A query slower than the gateway's subgraph timeout is a figure too (GATEWAY_TIMEOUT), not a crash.
        errors += [e.get("extensions", {}).get("code", e.get("message", "?")) for e in payload.get("errors") or []]
    result = {"samples": samples, "p50_ms": round(percentile(latencies, 50) * 1000, 1),
              "max_ms": round(max(latencies) * 1000, 1)}
    if errors:
        result["errors"] = errors
    return result
