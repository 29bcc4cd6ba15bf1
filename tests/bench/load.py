"""Load against a GraphQL endpoint and the figures it yields (req/s, p50, p99): closed loop (workers
that wait for each answer) and open loop (requests at a fixed offered rate, whatever the answers)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

import httpx


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


async def open_loop(client: httpx.AsyncClient, url: str, make_request: Request, rate: float,
                    seconds: float) -> dict:
    """Requests sent at `rate` per second for `seconds`, each when it is due, whether or not earlier
    ones have answered; a latency counts from when its request was due, so a slow server shows in
    p99 instead of slowing the senders down (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    started = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal errors, first_error
        due = started + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        body, headers = make_request(i)
        response = await client.post(url, json=body, headers=headers)
        latencies.append(time.perf_counter() - due)
        if response.status_code != 200 or response.json().get("errors"):
            errors += 1
            first_error = first_error or response.text[:300]

    await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))
    result = {**summary(latencies, time.perf_counter() - started, errors), "offered_per_s": rate}
    if first_error:
        result["first_error"] = first_error
    return result


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
