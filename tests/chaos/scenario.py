"""The chaos scenario (`make chaos`): under a steady order load through the gateway, restart
RabbitMQ, kill -9 a consuming service (points) and start it again, restart Postgres; then wait until
the stack is quiet and check what must hold across the services' databases and the broker:

  - every points account and store-credit wallet equals the sums of its ledger;
  - orders are taken again after each fault;
  - every order paid in customers (whether or not the platform heard back) has its points exactly
    once in points (one earn entry), and every order the platform saw paid is paid there;
  - no outbox row is left unpublished, in any service;
  - no message waits in a service queue or a retry queue: only dead-letter queues hold any,
    and their counts are listed.

It prints what it does and each check as it goes, and exits 1 when a check fails.

    python -m tests.chaos.scenario [--rate ORDERS_PER_SECOND] [--pause SECONDS]

The platform side behaves as a real one would: each order is recorded and then paid, and a call
that fails (a fault is under way) is tried again until it is taken; both calls are idempotent."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from tests.conftest import ROOT
from tests.invariants import earn_once_violations, ledger_violations, queue_depths, stuck, unpublished_outbox
from tests.stack import all_ready, db, ensure_stack, gateway_url, shop_admin, unique

STACK = str(ROOT / "infra" / "local" / "stack.sh")
RECORD = "mutation($i: OrderInput!) { recordOrder(input: $i) { id } }"
PAY = "mutation($id: ID!) { updateOrderStatus(id: $id, status: PAID) { id status } }"
UPSERT = "mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }"
GIVE_UP_AFTER = 120.0  # seconds one order's calls keep being retried
IN_FLIGHT = 8  # orders being sent at once; a busy stack gets fewer new ones, not a pile of retries


class Log:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[chaos +{time.monotonic() - self.started:6.1f}s] {message}", flush=True)


@dataclass
class Load:
    """Orders of one shop, paid at a steady rate until stopped."""
    shop: str
    headers: dict[str, str]
    customers: list[str]
    rate: float
    log: Log
    paid: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    retried_calls: int = 0
    skipped: int = 0
    retry_reasons: Counter = field(default_factory=Counter)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _call(self, client: httpx.AsyncClient, query: str, variables: dict) -> bool:
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:
            try:
                response = await client.post(gateway_url(), json={"query": query, "variables": variables},
                                             headers=self.headers)
                body = response.json()
                if response.status_code == 200 and not body.get("errors"):
                    return True
                error = (body.get("errors") or [{}])[0]
                reason = f"HTTP {response.status_code} {(error.get('extensions') or {}).get('code')}: " \
                         f"{str(error.get('message'))[:80]}"
            except (httpx.HTTPError, ValueError) as exc:
                reason = exc.__class__.__name__
            self.retry_reasons[reason] += 1
            self.retried_calls += 1
            await asyncio.sleep(0.5)
        return False

    async def _one_order(self, client: httpx.AsyncClient, number: int) -> None:
        order_id = unique("chaos-o")
        order = {"id": order_id, "customerId": self.customers[number % len(self.customers)], "currency": "EUR",
                 "lines": [{"productId": "p-chaos", "quantity": 1, "unitPrice": f"{20 + number % 7}.00"}],
                 "total": f"{20 + number % 7}.00", "placedAt": "2026-11-20T10:00:00+00:00"}
        if await self._call(client, RECORD, {"i": order}) and await self._call(client, PAY, {"id": order_id}):
            self.paid.append(order_id)
        else:
            self.lost.append(order_id)

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            orders: list[asyncio.Task] = []
            number = 0
            while not self._stop.is_set():
                if sum(not o.done() for o in orders) < IN_FLIGHT:
                    orders.append(asyncio.create_task(self._one_order(client, number)))
                    number += 1
                else:
                    self.skipped += 1
                try:
                    await asyncio.wait_for(self._stop.wait(), 1 / self.rate)
                except TimeoutError:
                    pass
            self.log(f"load: stopped after {number} orders; waiting for the ones still being retried")
            await asyncio.gather(*orders)

    def stop(self) -> None:
        self._stop.set()


async def stack(log: Log, *args: str) -> None:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(STACK, *args, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"stack.sh {' '.join(args)} failed: {err.decode()[-500:]}")
    log(f"  stack.sh {' '.join(args)}: done in {time.monotonic() - started:.1f}s")


async def kill_hard(log: Log, name: str) -> None:
    """SIGKILL to every instance of `name` (whatever SCALE runs), through stack.sh as the other
    chaos tests do; it returns once the processes are gone."""
    await stack(log, "kill", name)
    log(f"  kill -9 {name}: gone")


async def paid_orders(shop: str) -> list[str]:
    """The shop's orders that customers holds as paid (or further along: shipped, delivered)."""
    conn = await db("customers")
    try:
        rows = await conn.fetch("SELECT id FROM orders WHERE shop_id = $1 AND status IN ('PAID', 'SHIPPED', "
                                "'DELIVERED')", shop)
    finally:
        await conn.close()
    return [r["id"] for r in rows]


async def quiet(log: Log, load: Load, timeout: float) -> bool:
    """Until every paid order is credited, every outbox is published and no queue but the
    dead-letter ones holds a message, twice in a row a second apart."""
    deadline = time.monotonic() + timeout
    calm = 0
    last = ""
    while time.monotonic() < deadline:
        try:
            missing = len(await earn_once_violations(load.shop, await paid_orders(load.shop)))
            outbox = {s: n for s, n in (await unpublished_outbox()).items() if n}
            queues = stuck(await queue_depths())
            ready = all_ready()
        except Exception as exc:  # a part still coming back
            missing, outbox, queues, ready = -1, {}, {}, False
            last = f"not answering yet ({exc.__class__.__name__})"
        else:
            last = (f"{missing} paid orders not credited yet, unpublished outbox {outbox or 'none'}, "
                    f"queued {queues or 'none'}, services {'ready' if ready else 'not ready'}")
        calm = calm + 1 if (missing == 0 and not outbox and not queues and ready) else 0
        if calm >= 2:
            log(f"quiet: {last}")
            return True
        await asyncio.sleep(1)
    log(f"not quiet after {timeout:.0f}s: {last}")
    return False


async def run(rate: float = 4.0, pause: float = 8.0, customers: int = 5, quiet_timeout: float = 180.0) -> bool:
    """The whole scenario; True when every check held."""
    log = Log()
    ensure_stack()
    shop = unique("chaos")
    headers = shop_admin(shop)  # admins may ingest; a shop of its own keeps the checks exact
    log(f"shop {shop}: {customers} customers, orders at {rate:g}/s, {pause:g}s of load around each fault")
    async with httpx.AsyncClient(timeout=15) as client:
        ids = [unique("chaos-c") for _ in range(customers)]
        for customer_id in ids:
            body = (await client.post(gateway_url(), headers=headers, json={"query": UPSERT, "variables": {
                # no marketing consent: the load is about orders and points, not about mail volume
                "i": {"id": customer_id, "email": f"{customer_id}@example.com", "acceptsEmail": False}}})).json()
            assert body.get("data"), body
    load = Load(shop, headers, ids, rate, log)
    running = asyncio.create_task(load.run())
    progress: list[tuple[str, int]] = []
    faults = [
        ("restart RabbitMQ", lambda: stack(log, "restart", "rabbitmq")),
        ("kill -9 the points service, then start it", lambda: _kill_and_start(log, "points")),
        ("restart Postgres", lambda: stack(log, "restart", "postgres")),
    ]
    try:
        await asyncio.sleep(pause)
        for number, (what, fault) in enumerate(faults, 1):
            log(f"fault {number}/{len(faults)}: {what} ({len(load.paid)} orders paid so far)")
            await fault()
            before = len(load.paid)
            await asyncio.sleep(pause)
            progress.append((what, len(load.paid) - before))
    finally:
        load.stop()
        await running
    log(f"load: {len(load.paid)} orders paid, {len(load.lost)} given up, {load.retried_calls} calls retried, "
        f"{load.skipped} ticks skipped with {IN_FLIGHT} orders in flight")
    for reason, count in load.retry_reasons.most_common(8):
        log(f"  retried {count}x: {reason}")

    if load.lost:  # the platform never heard back; customers' own record decides whether they are paid
        log(f"  given up (checked below from customers' records): {', '.join(load.lost[:10])}"
            f"{' …' if len(load.lost) > 10 else ''}")
    log("waiting for the stack to be quiet")
    settled = await quiet(log, load, quiet_timeout)
    paid = await paid_orders(shop)
    checks = [
        ("orders were taken again after each fault",
         [f"none paid in the {pause:g}s after: {what}" for what, n in progress if n == 0]),
        (f"the {len(load.paid)} orders the platform saw paid are paid in customers",
         sorted(set(load.paid) - set(paid))),
        ("every balance and wallet equals its ledger sum (all shops)", await ledger_violations()),
        (f"each of the {len(paid)} paid orders in customers earned exactly once (points)",
         await earn_once_violations(shop, paid)),
        ("no outbox row left unpublished", [f"{s}: {n}" for s, n in (await unpublished_outbox()).items() if n]),
        ("no message outside a dead-letter queue", [f"{q}: {n}" for q, n in stuck(await queue_depths()).items()]),
        ("every service ready", [] if all_ready() else ["not every service answers /readyz"]),
    ]
    ok = settled
    for what, violations in checks:
        log(f"check: {what}: {'OK' if not violations else 'FAILED'}")
        for violation in violations[:20]:
            log(f"    {violation}")
        ok = ok and not violations
    # Listed, not judged: earlier tests park poison messages there on purpose. They are counted, not
    # read: taking one out and back would count as a delivery against the queue's delivery limit.
    letters = {name: n for name, n in (await queue_depths()).items() if name.endswith(".dlq") and n}
    log(f"dead-letter queues: {', '.join(f'{q} {n}' for q, n in sorted(letters.items())) or 'all empty'}")
    log("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED")
    return ok


async def _kill_and_start(log: Log, name: str) -> None:
    await kill_hard(log, name)
    await asyncio.sleep(1.5)  # orders keep coming while it is away
    await stack(log, "start", name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=4.0, help="orders per second (default 4)")
    parser.add_argument("--pause", type=float, default=8.0, help="seconds of load before, between and after faults")
    args = parser.parse_args()
    return 0 if asyncio.run(run(rate=args.rate, pause=args.pause)) else 1


if __name__ == "__main__":
    sys.exit(main())
