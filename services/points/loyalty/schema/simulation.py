"""GraphQL of simulateProgram: a proposed program next to the current one over a past period (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from services.points.loyalty import simulating, simulation, simulation_runs
from services.points.loyalty.schema.program import ProgramInput, change_of
from shared.graphql import Money, ctx


@strawberry.type
class TierCount:
    tier: str
    customers: int


@strawberry.type(description="What a program would have done over the period, replayed on the shop's history.")
class ProgramSimulation:
    orders: int = strawberry.field(description="Orders paid in the period.")
    points_issued: int = strawberry.field(description=(
        "Points earned in the period: purchases (after their refunds), actions and challenges."))
    points_pending: int = strawberry.field(description="Pending points at `to` (inside a return window).")
    points_available: int = strawberry.field(description="Available points at `to`.")
    points_expired: int = strawberry.field(description="Points that lapsed in the period.")
    effective_cashback: float = strawberry.field(description=(
        "Points issued × point value / net revenue of the period's paid orders (0.03 = 3 %)."))
    liability: Money = strawberry.field(description="(Pending + available points at `to`) × point value.")
    reward_cost: Money = strawberry.field(description=(
        "Points issued × the period's observed redemption rate (points redeemed / earned) × point value."))
    tier_distribution: list[TierCount] = strawberry.field(description="Customers per tier at `to`, lowest first.")
    within_ceiling: bool = strawberry.field(description=(
        "The program's effective cashback (earn rate × top multiplier × point value) and the period's are at "
        "most its ceiling: configureProgram would accept it without force."))
    within_band: bool = strawberry.field(description="The period's effective cashback lies in the 3–5 % band.")
    net_revenue: Money = strawberry.field(description="Net amount of the period's paid orders, after refunds.")

    @classmethod
    def of(cls, o: simulation.Outcome, currency: str) -> ProgramSimulation:
        t = o.totals
        return cls(orders=t.orders, points_issued=t.issued, points_pending=t.pending, points_available=t.available,
                   points_expired=t.expired, effective_cashback=float(o.effective_cashback),
                   liability=Money.of(o.liability, currency), reward_cost=Money.of(o.reward_cost, currency),
                   tier_distribution=[TierCount(tier=n, customers=c) for n, c in o.tiers],
                   within_ceiling=o.within_ceiling, within_band=o.within_band,
                   net_revenue=Money.of(t.revenue, currency))


@strawberry.type
class ProgramComparison:
    proposed: ProgramSimulation
    current: ProgramSimulation
    notes: list[str] = strawberry.field(description=(
        "What to know about the answer: a proposed program the ceiling would refuse, a period without orders."))

    @classmethod
    def of(cls, c: simulating.Comparison, proposed_currency: str, current_currency: str) -> ProgramComparison:
        return cls(proposed=ProgramSimulation.of(c.proposed, proposed_currency),
                   current=ProgramSimulation.of(c.current, current_currency), notes=c.notes)


async def simulate_program(info: Info, input: ProgramInput,
                           from_: Annotated[datetime, strawberry.argument(name="from")],
                           to: datetime) -> ProgramComparison:
    c = ctx(info)
    c.principal.require_admin()
    result = await simulating.simulate(c.pool, c.shop, change_of(input), from_, to)
    return ProgramComparison.of(result, result.proposed_currency, result.current_currency)



@strawberry.type(description="A simulation run as jobs (startProgramSimulation), polled with programSimulation.")
class ProgramSimulationRun:
    id: strawberry.ID
    done: bool
    customers_done: int = strawberry.field(description="Customers replayed so far.")
    started_at: datetime
    finished_at: datetime | None
    comparison: ProgramComparison | None = strawberry.field(description="Once done.")

    @classmethod
    def of(cls, r: simulation_runs.Run) -> ProgramSimulationRun:
        c = r.comparison
        return cls(id=strawberry.ID(r.id), done=r.done, customers_done=r.customers, started_at=r.started_at,
                   finished_at=r.finished_at,
                   comparison=None if c is None else ProgramComparison.of(c, c.proposed_currency, c.current_currency))


async def start_program_simulation(info: Info, input: ProgramInput,
                                   from_: Annotated[datetime, strawberry.argument(name="from")],
                                   to: datetime) -> ProgramSimulationRun:
    c = ctx(info)
    c.principal.require_admin()
    return ProgramSimulationRun.of(await simulation_runs.start(c.pool, c.shop, change_of(input), from_, to, "admin"))


async def program_simulation(info: Info, id: strawberry.ID) -> ProgramSimulationRun:
    c = ctx(info)
    c.principal.require_admin()
    return ProgramSimulationRun.of(await simulation_runs.read(c.pool, c.shop, str(id)))
