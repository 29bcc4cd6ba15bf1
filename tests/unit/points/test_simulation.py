"""The replay of simulateProgram on hand-made histories: the return window, tiers over more than a year,
expiry, refunds after a release (shortfalls), actions under another program, the period's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.points.loyalty import simulation as sim
from services.points.loyalty.program import DEFAULT, ExchangeRate
from shared.errors import BadUserInput

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
VERSIONS = sim.Versions(((T0 - 1000 * DAY, DEFAULT),))


def order(order_id: str, paid: datetime, net: str, *, delivered: datetime | None = None,
          changes: tuple[sim.Change, ...] = (), earned: int = 0, currency: str = "EUR",
          fx_rate: Decimal | None = Decimal(1)) -> sim.OrderFacts:
    """An order; paid before the period, `earned` and `fx_rate` are what the ledger recorded."""
    return sim.OrderFacts(order_id=order_id, currency=currency, paid_at=paid, paid_net=Decimal(net),
                          delivered_at=delivered, release_at=delivered + 14 * DAY if delivered else None,
                          changes=changes, earned=earned, earn_rate=Decimal(1), multiplier=Decimal(1),
                          base_currency="EUR", fx_rate=fx_rate)


def customer(*orders: sim.OrderFacts, entries: tuple[sim.EntryFacts, ...] = (), available: int = 0,
             pending: int = 0, last_activity: datetime | None = None) -> sim.CustomerFacts:
    return sim.CustomerFacts("c", available, pending, last_activity, tuple(orders), entries)


def run(c: sim.CustomerFacts, start: datetime, end: datetime, prog=DEFAULT) -> sim.Totals:
    return sim.simulate([c], [prog], VERSIONS, start, end)[0]


def test_pending_until_the_return_window_after_delivery_then_available():
    c = customer(order("o1", T0 + DAY, "45.50", delivered=T0 + 3 * DAY))
    assert (run(c, T0, T0 + 10 * DAY).pending, run(c, T0, T0 + 10 * DAY).available) == (45, 0)
    t = run(c, T0, T0 + 20 * DAY)
    assert (t.pending, t.available, t.issued, t.orders, t.revenue) == (0, 45, 45, 1, Decimal("45.50"))
    # Delivered before the payment was seen: the payment plans the release from the delivery.
    early = customer(order("o1", T0 + 5 * DAY, "45.50", delivered=T0 + 2 * DAY))
    assert run(early, T0, T0 + 16 * DAY + timedelta(hours=1)).available == 45


def test_a_refund_after_the_release_takes_what_is_there_and_the_rest_becomes_a_shortfall():
    refund = sim.Change(T0 + 30 * DAY, Decimal(0), True)
    redeemed = sim.EntryFacts(T0 + 20 * DAY, "redeem", "available", -80, "redeem:c:k", "reward", 1)
    c = customer(order("o1", T0 + DAY, "100", delivered=T0 + 2 * DAY, changes=(refund,)),
                 order("o2", T0 + 40 * DAY, "50", delivered=T0 + 41 * DAY), entries=(redeemed,))
    t = run(c, T0, T0 + 60 * DAY)
    # 100 released, 80 spent, the cancellation takes the 20 left (80 short), o2's 50 settles 50 of it.
    assert (t.available, t.pending, t.redeemed, t.issued) == (0, 0, 80, 50)


def test_a_tier_reached_applies_to_the_next_order_and_is_kept_a_year_then_reviewed():
    c = customer(order("o1", T0 + DAY, "600"), order("o2", T0 + 10 * DAY, "100"),
                 order("o3", T0 + 380 * DAY, "100"))
    t = run(c, T0, T0 + 20 * DAY)
    assert t.issued == 600 + 125 and t.tiers == {"Silver": 1}  # o2 earns ×1.25
    # A year after Silver was reached (day 1) the review finds the spend below 500: Bronze again, so o3
    # (day 380) earns ×1.
    t = run(c, T0, T0 + 400 * DAY)
    assert t.issued == 600 + 125 + 100 and t.tiers == {"Bronze": 1}


def test_the_tier_is_held_for_the_programs_own_tier_period():
    """A shop's tierPeriodDays (issue 19) is replayed too: with 180 days the review of Silver reached on
    day 1 comes on day 181, so the order of day 200 earns ×1; with the default year it earns ×1.25."""
    c = customer(order("o1", T0 + DAY, "600"), order("o2", T0 + 200 * DAY, "100"))
    half_year = run(c, T0, T0 + 210 * DAY, replace(DEFAULT, tier_period_days=180))
    assert (half_year.issued, half_year.tiers) == (600 + 100, {"Bronze": 1})
    year = run(c, T0, T0 + 210 * DAY)
    assert (year.issued, year.tiers) == (600 + 125, {"Silver": 1})


def test_the_whole_balance_lapses_after_the_months_without_activity_unless_expiry_is_off():
    c = customer(available=300, last_activity=T0 - 300 * DAY)
    assert run(c, T0, T0 + 100 * DAY).expired == 300  # 12 months after the last activity
    # A lapse planned before the period fires whatever the proposed program says; new activity under a
    # program without expiry plans none.
    no_expiry = replace(DEFAULT, expiry_months=0)
    assert run(c, T0, T0 + 100 * DAY, no_expiry).expired == 300
    active = customer(order("o1", T0 + 10 * DAY, "10", delivered=T0 + 11 * DAY), available=300,
                      last_activity=T0 - 300 * DAY)
    assert run(active, T0, T0 + 500 * DAY, no_expiry).expired == 0
    assert run(active, T0, T0 + 500 * DAY).expired == 310


def test_actions_earn_the_programs_value_when_they_earned_their_versions_value():
    review = sim.EntryFacts(T0 + DAY, "earn", "available", 100, "review:c:p1", "photo/video review of p1", 1)
    referral = sim.EntryFacts(T0 + DAY, "earn", "available", 2000, "referral:r1", "referral r1", 1)
    challenge = sim.EntryFacts(T0 + DAY, "earn", "available", 70, "challenge:ch:c", "challenge", 1)
    c = customer(entries=(review, referral, challenge))
    generous = replace(DEFAULT, action_points={**DEFAULT.action_points, "media_review": 150, "referral": 300})
    assert run(c, T0, T0 + 2 * DAY).issued == 100 + 2000 + 70
    # The review was the program's value: 150 now; the referral named its own reward and keeps it.
    assert run(c, T0, T0 + 2 * DAY, generous).issued == 150 + 2000 + 70
    paid_in_credit = replace(DEFAULT, media_review_credit=Decimal(5))
    assert run(c, T0, T0 + 2 * DAY, paid_in_credit).issued == 2000 + 70


def test_the_period_is_checked():
    now = T0 + 1000 * DAY
    sim.check_period(T0, now, now)
    for start, end in ((now, T0), (T0, T0 + 3 * 366 * DAY + DAY), (T0, now + DAY), (T0.replace(tzinfo=None), now)):
        with pytest.raises(BadUserInput):
            sim.check_period(start, end, now)


def test_the_comparison_against_the_ceiling_and_the_band():
    cent = replace(DEFAULT, point_value=Decimal("0.01"))  # a point worth 0.01: the figures below by hand
    totals = sim.Totals(orders=1, revenue=Decimal(100), issued=400, pending=100, available=300)
    o = sim.outcome(totals, cent, sim.redemption_rate(100, 400))
    assert (o.effective_cashback, o.liability, o.reward_cost) == (Decimal("0.04"), Decimal(4), Decimal(1))
    assert o.within_band and o.within_ceiling
    assert [n for n, _ in o.tiers] == ["Bronze", "Silver", "Gold"]
    # The program's own top rate (10 × 1.5 × 0.01 = 15 %) is over its ceiling, whatever the period paid.
    over = sim.outcome(totals, replace(cent, earn_rate=Decimal(10)), Decimal(0))
    assert not over.within_ceiling and over.within_band


def test_orders_in_another_currency_earn_at_the_programs_rate_or_nothing_as_the_ledger_does():
    """earning.order_paid's rule: converted at the program's exchange rate (points, tier spend and the net
    revenue), NOT_ELIGIBLE without one; a refund takes back at the rate the order earned at."""
    rates = replace(DEFAULT, exchange_rates={"GBP": ExchangeRate(Decimal("1.15"), T0.date())})
    refund = sim.Change(T0 + 5 * DAY, Decimal("40"), False)
    c = customer(order("g1", T0 + DAY, "100", currency="GBP", changes=(refund,)),
                 order("u1", T0 + 2 * DAY, "80", currency="USD"),
                 order("g2", T0 + 3 * DAY, "500", currency="GBP"))
    t = run(c, T0, T0 + 10 * DAY, rates)
    # g1 earns 115 and keeps 46 (40 × 1.15) after its refund; 100 + 500 GBP reach Silver (500 EUR) at
    # g2's payment, which still earns at Bronze: 575.
    assert (t.issued, t.pending, t.not_eligible, t.orders) == (46 + 575, 46 + 575, 1, 3)
    assert t.revenue == Decimal("40") * Decimal("1.15") + Decimal("500") * Decimal("1.15")
    assert t.tiers["Silver"] == 1
    without = run(c, T0, T0 + 10 * DAY)  # the default program has no rates: nothing earns
    assert (without.issued, without.not_eligible, without.revenue, without.tiers["Bronze"]) == (0, 3, 0, 1)
    # Paid before the period at the rate then recorded (0.5), refunded in it: taken back at 0.5.
    before = customer(order("g0", T0 - 10 * DAY, "100", currency="GBP", earned=50, fx_rate=Decimal("0.5"),
                            changes=(sim.Change(T0 + DAY, Decimal("60"), False),)), pending=50)
    assert run(before, T0, T0 + 5 * DAY, rates).pending == 30
