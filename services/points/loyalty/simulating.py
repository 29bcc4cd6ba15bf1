"""simulateProgram: the shop's real orders, refunds and actions of a period replayed under a proposed
program and under the current one (simulation.py), side by side. Reads only, in one read-only snapshot:
nothing is written, whatever the input.

The replay runs a page of customers at a time (their facts read, then replayed in a worker thread so the
service keeps answering). It reads every paid order before `to` (the history sets the tiers), so that is
what decides whether it answers at once: up to SYNC_ORDERS of them (the 10k-customer bench shop's 50 000
took 2–5 s); a larger shop is answered by startProgramSimulation as jobs, a page each, that the console
polls (simulation_runs.py)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from services.points.loyalty import configuration, simulation, store
from services.points.loyalty.program import Program, ProgramChange, apply_change
from shared.db import Executor, transaction
from shared.errors import BadUserInput

PAGE = 5000  # customers read and replayed at a time
SYNC_ORDERS = 100_000  # paid orders before `to` simulateProgram replays at once (tests/bench: `simulation`)


@dataclass(frozen=True)
class Comparison:
    proposed: simulation.Outcome
    current: simulation.Outcome
    notes: list[str]
    proposed_currency: str
    current_currency: str


@dataclass(frozen=True)
class Plan:
    """What a simulation needs besides the customers: both programs, the versions, the observed rate."""
    proposed: Program
    current: Program
    versions: simulation.Versions
    rate: Decimal
    orders: int


async def plan(conn: Executor, shop: str, change: ProgramChange, start: datetime, end: datetime) -> Plan:
    """Validate the period and the proposed change (configureProgram's own checks; a program above the
    ceiling is simulated and flagged, not refused) and read what every page shares."""
    simulation.check_period(start, end, datetime.now(UTC))
    current = await configuration.in_force(conn, shop)
    proposed = apply_change(current, replace(change, force=True))
    rows = await store.simulation.versions(conn, shop)
    versions = simulation.Versions(tuple((r["created_at"], Program.from_json(r["version"], r["config"]))
                                         for r in rows) or ((datetime.min.replace(tzinfo=UTC), current),))
    observed = await store.simulation.observed(conn, shop, start, end)
    return Plan(proposed=proposed, current=current, versions=versions,
                rate=simulation.redemption_rate(observed["redeemed"], observed["earned"]),
                orders=await store.simulation.paid_orders(conn, shop, start, end))


async def facts(conn: Executor, shop: str, ids: list[str], start: datetime,
                end: datetime) -> list[simulation.CustomerFacts]:
    """One page of customers as the replay takes them."""
    starts = {r["customer_id"]: r for r in await store.simulation.starts(conn, shop, ids, start)}
    changes: dict[str, list[simulation.Change]] = defaultdict(list)
    for r in await store.simulation.changes(conn, shop, ids, end):
        changes[r["order_id"]].append(simulation.Change(r["at"], r["net_amount"], r["voided"]))
    orders: dict[str, list[simulation.OrderFacts]] = defaultdict(list)
    for r in await store.simulation.orders(conn, shop, ids, end):
        orders[r["customer_id"]].append(simulation.OrderFacts(
            order_id=r["order_id"], currency=r["currency"], paid_at=r["paid_at"], paid_net=r["paid_net"],
            delivered_at=r["delivered_at"], release_at=r["release_at"], changes=tuple(changes[r["order_id"]]),
            earned=r["earned"], earn_rate=r["earn_rate"], multiplier=r["multiplier"],
            base_currency=r["base_currency"], fx_rate=r["fx_rate"]))
    entries: dict[str, list[simulation.EntryFacts]] = defaultdict(list)
    for r in await store.simulation.entries(conn, shop, ids, start, end):
        entries[r["customer_id"]].append(simulation.EntryFacts(
            at=r["created_at"], kind=r["kind"], bucket=r["bucket"], delta=r["delta"], key=r["idempotency_key"],
            reason=r["reason"], rule_version=r["rule_version"]))
    out = []
    for customer_id in ids:
        s = starts.get(customer_id)
        out.append(simulation.CustomerFacts(
            customer_id=customer_id, available=int(s["available"]) if s else 0,
            pending=int(s["pending"]) if s else 0,
            last_activity=s["last_activity"] if s else None, orders=tuple(orders[customer_id]),
            entries=tuple(entries[customer_id])))
    return out


async def replay_page(conn: Executor, shop: str, p: Plan, start: datetime, end: datetime, after: str,
                      size: int | None = None) -> tuple[str | None, list[simulation.Totals]]:
    """One page of customers after `after`, replayed under (proposed, current): the last id (None when
    there were none) and the page's totals."""
    ids = await store.simulation.customers(conn, shop, end, after, size or PAGE)
    if not ids:
        return None, [simulation.Totals(), simulation.Totals()]
    customers = await facts(conn, shop, ids, start, end)
    totals = await asyncio.to_thread(simulation.simulate, customers, [p.proposed, p.current], p.versions, start, end)
    return ids[-1], totals


def compare(p: Plan, proposed: simulation.Totals, current: simulation.Totals) -> Comparison:
    notes = []
    if p.orders == 0:
        notes.append("no paid orders in the period: nothing was earned by purchases under either program")
    if p.proposed.effective_cashback > p.proposed.cashback_ceiling:
        notes.append(f"the proposed program's effective cashback {p.proposed.effective_cashback * 100:.2f} % "
                     f"exceeds its ceiling of {p.proposed.cashback_ceiling * 100:.2f} %: configureProgram "
                     "refuses it without force: true")
    if proposed.not_eligible:
        notes.append(f"{proposed.not_eligible} paid orders of the period earn nothing under the proposed program: "
                     f"no exchange rate from their currency to {p.proposed.currency} (exchangeRates)")
    if current.not_eligible:
        notes.append(f"{current.not_eligible} paid orders of the period earn nothing under the current program: "
                     f"no exchange rate from their currency to {p.current.currency}")
    return Comparison(proposed=simulation.outcome(proposed, p.proposed, p.rate),
                      current=simulation.outcome(current, p.current, p.rate), notes=notes,
                      proposed_currency=p.proposed.currency, current_currency=p.current.currency)


async def simulate(pool: asyncpg.Pool, shop: str, change: ProgramChange, start: datetime,
                   end: datetime) -> Comparison:
    """simulateProgram: the whole comparison at once, in one read-only snapshot."""
    async with transaction(pool, isolation="repeatable_read", readonly=True) as conn:
        p = await plan(conn, shop, change, start, end)
        history = await store.simulation.orders_before(conn, shop, end)
        if history > SYNC_ORDERS:
            raise BadUserInput(
                f"the replay reads {history} paid orders, more than simulateProgram answers at once "
                f"({SYNC_ORDERS}): startProgramSimulation runs it as a job to poll with programSimulation",
                field="to", orders=history, limit=SYNC_ORDERS)
        proposed, current = simulation.Totals(), simulation.Totals()
        after: str | None = ""
        while after is not None:
            after, (a, b) = await replay_page(conn, shop, p, start, end, after)
            proposed.add(a)
            current.add(b)
    return compare(p, proposed, current)
