"""The order a batch's events are applied in: customer by customer, each customer's events as they
were delivered, an event about no one customer where it was."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.events import ChallengeLaunched, EventData, OrderPaid, ReferralConverted, new_envelope
from shared.inbox import Delivered, in_order, partition


async def nothing(conn: object, event: object, data: object) -> None:
    pass


def paid(customer: str, order: str, shop: str = "s") -> OrderPaid:
    return OrderPaid(shop=shop, order_id=order, customer_id=customer, currency="EUR", total=Decimal("10"),
                     net_amount=Decimal("10"), placed_at=datetime(2026, 1, 1, tzinfo=UTC))


def launched() -> ChallengeLaunched:
    return ChallengeLaunched(shop="s", challenge_id="ch-1", title="Spring", starts_at=datetime(2026, 1, 1, tzinfo=UTC),
                             ends_at=datetime(2026, 2, 1, tzinfo=UTC), reward_points=50)


def batch(*payloads: EventData) -> list[Delivered]:
    return [Delivered(new_envelope(p, source="t"), p, nothing) for p in payloads]


def names(items: list[Delivered], order: list[int]) -> list[str]:
    return [getattr(items[i].payload, "order_id", "launch") for i in order]


def test_each_customers_events_keep_their_order_and_customers_come_one_after_the_other() -> None:
    items = batch(paid("c-2", "o-1"), paid("c-1", "o-2"), paid("c-2", "o-3"), paid("c-1", "o-4"), paid("c-3", "o-5"))
    assert names(items, in_order(items)) == ["o-2", "o-4", "o-1", "o-3", "o-5"]


def test_an_event_about_no_one_customer_stays_between_what_came_before_and_after() -> None:
    items = batch(paid("c-2", "o-1"), paid("c-1", "o-2"), launched(), paid("c-1", "o-3"), paid("c-0", "o-4"))
    assert names(items, in_order(items)) == ["o-2", "o-1", "launch", "o-4", "o-3"]


def test_whose_events_they_are() -> None:
    assert partition(paid("c-1", "o-1")) == partition(paid("c-1", "o-2")) != partition(paid("c-1", "o-1", shop="t"))
    converted = ReferralConverted(shop="s", referral_id="r-1", referrer_id="c-9", friend_id="c-1", order_id="o-1",
                                  reward_kind="points", reward_points=100)
    assert partition(converted) == partition(paid("c-9", "o-7"))
    assert partition(launched()) is None
