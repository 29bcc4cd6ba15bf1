"""Predictions in GraphQL: Customer.prediction (admin), the shop's predictionStatus and
refreshPredictions (admin). Rules: predictions.py; fitting and storing: predicting.py."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from services.customers import predicting, predictions, store
from shared.graphql import Context, Money, ctx, rows_loader


@strawberry.type(description="What the shop's buy-till-you-die model says of a customer (admin).")
class CustomerPrediction:
    probability_active: float = strawberry.field(description=(
        "Probability the customer still buys here (BG/NBD: 1 for a one-time buyer, by the model's construction)."))
    expected_orders90d: float = strawberry.field(name="expectedOrders90d",
                                                 description="Expected orders in the next 90 days.")
    expected_value12m: Money | None = strawberry.field(name="expectedValue12m", description=(
        "Expected orders in the next 365 days × expected net spend per order (Gamma-Gamma), undiscounted."))
    model: str
    fitted_at: datetime


def prediction_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    return rows_loader(c, "predictions", "customer_id", store.predictions.for_customers)


async def prediction_of(info: Info, customer_id: str) -> CustomerPrediction | None:
    c = ctx(info)
    c.principal.require_admin()
    row = await prediction_rows(c).load(customer_id)
    if row is None:
        return None
    return CustomerPrediction(
        probability_active=row["probability_active"], expected_orders90d=row["expected_orders_90d"],
        expected_value12m=Money.of(row["expected_value_12m"], row["currency"] or "EUR"), model=row["model"],
        fitted_at=row["fitted_at"])


@strawberry.enum
class PredictionState(Enum):
    FITTED = "FITTED"
    TOO_FEW_BUYERS = "TOO_FEW_BUYERS"
    NOT_FITTED = "NOT_FITTED"
    NEVER_FITTED = "NEVER_FITTED"


@strawberry.type(description="Whether the shop's customers have predictions, and why not (admin).")
class PredictionStatus:
    status: PredictionState
    reason: str | None
    model: str
    fitted_at: datetime | None
    buyers: int = strawberry.field(description="Customers with a counting order when it was fitted.")
    repeat_buyers: int
    minimum_buyers: int
    minimum_repeat_buyers: int
    parameters: JSON | None = strawberry.field(description="The fitted parameters (time in days).")

    @classmethod
    def of(cls, row: asyncpg.Record | None) -> PredictionStatus:
        if row is None:
            return cls(status=PredictionState.NEVER_FITTED, reason="the nightly fit has not run for this shop yet",
                       model=predictions.MODEL, fitted_at=None, buyers=0, repeat_buyers=0,
                       minimum_buyers=predictions.MIN_BUYERS, minimum_repeat_buyers=predictions.MIN_REPEAT_BUYERS,
                       parameters=None)
        return cls(status=PredictionState(row["status"]), reason=row["reason"], model=row["model"],
                   fitted_at=row["fitted_at"], buyers=row["buyers"], repeat_buyers=row["repeat_buyers"],
                   minimum_buyers=predictions.MIN_BUYERS, minimum_repeat_buyers=predictions.MIN_REPEAT_BUYERS,
                   parameters=row["params"])


async def prediction_status(info: Info) -> PredictionStatus:
    c = ctx(info)
    c.principal.require_admin()
    return PredictionStatus.of(await store.predictions.fit(c.pool, c.shop))


async def refresh_predictions(info: Info) -> PredictionStatus:
    """Fit the shop's models now (admin). The nightly job does the same at 02:00 UTC."""
    c = ctx(info)
    c.principal.require_admin()
    await predicting.refresh(c.pool, c.shop)
    return PredictionStatus.of(await store.predictions.fit(c.pool, c.shop))
