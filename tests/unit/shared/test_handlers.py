"""The typed event registry: routing keys come from payload classes, and the type checker refuses a
handler registered for a payload it does not take."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import mypy.api
import pytest

from shared.events import CustomerErased, OrderPaid, PointsEarned, new_envelope
from shared.handlers import EventHandlers, on
from tests.conftest import ROOT

seen: list[str] = []


async def on_paid(conn: object, event: object, data: OrderPaid) -> None:
    seen.append(f"paid {data.order_id}")


async def on_erased(conn: object, event: object, data: CustomerErased) -> None:
    seen.append(f"erased {data.customer_id}")


def paid() -> OrderPaid:
    return OrderPaid(shop="s", order_id="o-1", customer_id="c-1", currency="EUR", total=Decimal("10"),
                     net_amount=Decimal("10"), placed_at=datetime(2026, 1, 1, tzinfo=UTC))


async def test_a_payload_reaches_the_handler_registered_for_its_class() -> None:
    seen.clear()
    handlers = EventHandlers(on(OrderPaid, on_paid), on(CustomerErased, on_erased))  # type: ignore[arg-type]
    await handlers.dispatch(None, new_envelope(paid(), source="t"), paid())  # type: ignore[arg-type]
    assert seen == ["paid o-1"]
    assert handlers.routing_keys() == ["customer.erased", "order.paid"]
    assert handlers.handler_for(PointsEarned(shop="s", customer_id="c", points=1, balance=1, reason="r",
                                             source_id="x")) is None


async def test_an_event_its_subscription_is_not_concerned_with_does_not_reach_the_handler() -> None:
    seen.clear()
    handlers = EventHandlers(on(OrderPaid, on_paid, when=lambda d: d.customer_id == "c-1"))  # type: ignore[arg-type]
    other = paid().model_copy(update={"customer_id": "c-2", "order_id": "o-2"})
    assert handlers.concerns(paid()) and not handlers.concerns(other)
    await handlers.dispatch(None, new_envelope(other, source="t"), other)  # type: ignore[arg-type]
    await handlers.dispatch(None, new_envelope(paid(), source="t"), paid())  # type: ignore[arg-type]
    assert seen == ["paid o-1"]
    # Without `when`, every event of the type concerns the service.
    assert EventHandlers(on(OrderPaid, on_paid)).concerns(other)  # type: ignore[arg-type]


def test_only_catalog_events_and_one_handler_each() -> None:
    class NotAnEvent(OrderPaid):
        pass

    with pytest.raises(ValueError, match="not an event of the catalog"):
        on(NotAnEvent, on_paid)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two handlers"):
        EventHandlers(on(OrderPaid, on_paid), on(OrderPaid, on_paid))  # type: ignore[arg-type]


SNIPPET = '''
from shared.db import Connection
from shared.events import Envelope, OrderPaid, ReviewPublished
from shared.handlers import on

async def on_review(conn: Connection, event: Envelope, data: ReviewPublished) -> None: ...

on(ReviewPublished, on_review)
on(OrderPaid, on_review)
'''


def test_the_type_checker_refuses_a_handler_for_another_payload(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = tmp_path / "registrations.py"
    snippet.write_text(SNIPPET)
    monkeypatch.chdir(ROOT)  # where mypy finds `shared`
    out, err, status = mypy.api.run(["--no-incremental", "--config-file", str(ROOT / "pyproject.toml"),
                                     str(snippet)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    # Only the second registration is wrong: a ReviewPublished handler cannot take an OrderPaid.
    assert len(errors) == 1 and "registrations.py:9:" in errors[0], out


def test_every_service_binds_what_it_handles_the_offers_included() -> None:
    """A handler whose type the queue is not bound to never runs: a silent loss. Every service binds
    every type it handles; notifications binds those its flows, contacts and offers use, and the
    others only while a merchant's webhook endpoint subscribes to them."""
    from services.customers.consumers import HANDLERS as customers
    from services.notifications import consumers as notifications
    from services.points.consumers import HANDLERS as points
    from services.referrals.consumers import HANDLERS as referrals
    from services.reviews.consumers import HANDLERS as reviews

    for registry in (customers, points, referrals, reviews):
        assert registry.routing_keys() == registry.handled_routing_keys()
        assert not registry.follows_data
    assert {"offer.issued", "offer.redeemed", "offer.revoked", "offer.released"} <= set(customers.routing_keys())
    assert {"offer.requested", "order.placed", "order.cancelled", "order.refunded"} <= set(points.routing_keys())
    assert notifications.HANDLERS.routing_keys() == sorted(notifications._OWN)
    assert {"offer.issued", "offer.refused", "customer.registered"} <= set(notifications.HANDLERS.routing_keys())
    assert notifications.HANDLERS.follows_data
