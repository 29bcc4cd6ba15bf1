"""startProgramSimulation: a simulation as jobs, one page of customers each, for periods too large to
answer at once (simulating.SYNC_ORDERS). The run keeps both programs as they were when it started, so
every page replays the same comparison; the console polls programSimulation until it is done. Each page
reads its own snapshot: a refund recorded while the run goes on counts for the pages after it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.points.loyalty import simulating, simulation, store
from services.points.loyalty.program import Program, ProgramChange
from shared import schedule
from shared.db import Connection, Executor, transaction
from shared.errors import NotFound
from shared.schedule import Job

JOB = "points.simulation"  # one page of a run


@dataclass(frozen=True)
class Run:
    id: str
    done: bool
    customers: int
    started_at: datetime
    finished_at: datetime | None
    comparison: simulating.Comparison | None


def _run(row: asyncpg.Record) -> Run:
    comparison = None
    if row["after"] is None:
        proposed, current = (simulation.Totals.from_json(t) for t in row["totals"])
        comparison = simulating.compare(_plan(row), proposed, current)
    return Run(id=row["id"], done=row["after"] is None, customers=row["customers"], started_at=row["started_at"],
               finished_at=row["finished_at"], comparison=comparison)


def _plan(row: asyncpg.Record, versions: simulation.Versions | None = None) -> simulating.Plan:
    current = Program.from_json(row["current"]["version"], row["current"])
    return simulating.Plan(
        proposed=Program.from_json(row["proposed"]["version"], row["proposed"]), current=current,
        versions=versions or simulation.Versions(((row["started_at"], current),)), rate=row["rate"],
        orders=row["orders"])


def _json(prog: Program) -> dict:
    return {**prog.to_json(), "version": prog.version}


async def start(pool: asyncpg.Pool, shop: str, change: ProgramChange, begin: datetime, end: datetime,
                actor: str) -> Run:
    """Validate as simulateProgram does, store the run and plan its first page."""
    async with transaction(pool) as conn:
        p = await simulating.plan(conn, shop, change, begin, end)
        empty = [simulation.Totals().to_json(), simulation.Totals().to_json()]
        row = await store.simulation.add_run(conn, shop, f"sim-{uuid.uuid4().hex[:12]}", _json(p.proposed),
                                             _json(p.current), begin, end, p.rate, p.orders, empty, actor)
        await schedule.schedule(conn, shop=shop, kind=JOB, dedup_key=f"{row['id']}>", due_at=datetime.now(UTC),
                                payload={"run": row["id"]})
        return _run(row)


async def page(conn: Connection, job: Job) -> None:
    """The job: the run's next page of customers, its totals added; the next page planned, or the run done."""
    row = await store.simulation.lock_run(conn, job.shop, job.payload["run"])
    if row is None or row["after"] is None:
        return
    versions = simulation.Versions(tuple(
        (r["created_at"], Program.from_json(r["version"], r["config"]))
        for r in await store.simulation.versions(conn, job.shop)) or ((row["started_at"], _plan(row).current),))
    p = _plan(row, versions)
    last, (a, b) = await simulating.replay_page(conn, job.shop, p, row["period_from"], row["period_to"], row["after"])
    proposed, current = (simulation.Totals.from_json(t) for t in row["totals"])
    proposed.add(a)
    current.add(b)
    customers = sum(a.tiers.values())
    await store.simulation.advance_run(conn, job.shop, row["id"], last, customers,
                                       [proposed.to_json(), current.to_json()])
    if last is not None:
        await schedule.schedule(conn, shop=job.shop, kind=JOB, dedup_key=f"{row['id']}>{last}",
                                due_at=datetime.now(UTC), payload={"run": row["id"]})


async def read(conn: Executor, shop: str, id: str) -> Run:
    row = await store.simulation.run(conn, shop, id)
    if row is None:
        raise NotFound("no such simulation")
    return _run(row)
