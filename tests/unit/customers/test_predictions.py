"""BG/NBD and Gamma-Gamma as services/customers/predictions.py fits them: the published estimates on the
CDNOW sample the papers use, known parameters recovered from customers drawn from them, the minimum data
the shop needs (measured here), and what a regular and a silent customer are told."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from services.customers import predictions as p

CDNOW = Path(__file__).parents[2] / "fixtures" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"


def cdnow() -> p.Summary:
    rows = list(csv.DictReader(CDNOW.open()))
    column = lambda name: np.array([float(r[name]) for r in rows])  # noqa: E731
    return p.Summary(column("x"), column("t_x"), column("T"), column("zbar"))


def draw(rng: np.random.Generator, n: int, m: p.BgNbd, g: p.GammaGamma, ages: tuple[float, float]) -> p.Summary:
    """Customers from known parameters: the BG/NBD story (buy at rate λ, drop out after a purchase with
    probability p) from their first purchase to their age, and Gamma-Gamma spends."""
    rate, drop = rng.gamma(m.r, 1 / m.alpha, n), rng.beta(m.a, m.b, n)
    age, nu = rng.uniform(*ages, n), rng.gamma(g.q, 1 / g.v, n)
    x, t_x, spend = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rate[i])
            if t > age[i]:
                break
            x[i] += 1
            t_x[i] = t
            spend[i] += rng.gamma(g.p, 1 / nu[i])
            if rng.random() < drop[i]:
                break
        spend[i] = spend[i] / x[i] if x[i] else 0.0
    return p.Summary(x, t_x, age, spend)


def test_cdnow_reproduces_the_published_estimates():
    """Fader, Hardie & Lee (2005): BG/NBD r 0.243, α 4.414, a 0.793, b 2.426 (weeks); Gamma-Gamma p 6.25,
    q 3.74, γ 15.44. Within half a unit of the last published digit (BG/NBD) and one unit (Gamma-Gamma,
    whose γ the paper's solver left at 15.44 where the optimum is 15.448)."""
    s = cdnow()
    m = p.fit_bgnbd(s)
    assert m is not None
    for fitted, published in ((m.r, 0.243), (m.alpha, 4.414), (m.a, 0.793), (m.b, 2.426)):
        assert abs(fitted - published) <= 0.0005, (fitted, published)
    g = p.fit_gamma_gamma(s)
    assert g is not None
    for fitted, published in ((g.p, 6.25), (g.q, 3.74), (g.v, 15.44)):
        assert abs(fitted - published) <= 0.01, (fitted, published)
    # The paper's worked customer: 2 repeat purchases, the last at 30.43 weeks, observed for 38.86 weeks,
    # expects 1.226 purchases in the next 39 weeks.
    one = np.array([2.0]), np.array([30.43]), np.array([38.86])
    assert round(float(p.expected_purchases(m, 39, *one)[0]), 3) == 1.226
    assert round(float(p.probability_alive(m, *one)[0]), 3) == 0.727


TRUE = p.BgNbd(r=0.8, alpha=40.0, a=0.6, b=3.0)  # in days
TRUE_SPEND = p.GammaGamma(p=6.0, q=4.0, v=15.0)


def test_known_parameters_are_recovered_from_customers_drawn_from_them():
    s = draw(np.random.default_rng(1), 20_000, TRUE, TRUE_SPEND, (30, 730))
    m, g = p.fit_bgnbd(s), p.fit_gamma_gamma(s)
    assert m is not None and g is not None
    for fitted, true in ((m.r, TRUE.r), (m.alpha, TRUE.alpha), (m.a, TRUE.a), (m.b, TRUE.b),
                         (g.p, TRUE_SPEND.p), (g.q, TRUE_SPEND.q), (g.v, TRUE_SPEND.v)):
        assert abs(fitted / true - 1) < 0.05, (fitted, true)


CDNOW_DAYS = p.BgNbd(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
CDNOW_SPEND = p.GammaGamma(p=6.25, q=3.74, v=15.44)


def test_the_minimum_data_recovers_the_expected_orders():
    """The measurement behind MIN_BUYERS / MIN_REPEAT_BUYERS, on shops like CDNOW's (few repeat buyers):
    over 20 draws of 200 buyers (51–75 repeat buyers) every fit that converged put the shop's expected orders
    for the next 90 days within 20.3 % of what the true parameters say, and the repeat buyers' probability
    alive within 0.17 on average (100 buyers, 26–38 repeat: 30 % and 0.36; 1000 buyers: 9 % and 0.06).
    Here a few of those draws, each inside 21 % and 0.17, or refused."""
    for seed in range(5):
        s = draw(np.random.default_rng(100 + seed), p.MIN_BUYERS, CDNOW_DAYS, CDNOW_SPEND, (1, 273))
        found = p.fit(s)
        if isinstance(found, str):
            assert "too few" in found or "converge" in found or "finite" in found
            continue
        truth = p.expected_purchases(CDNOW_DAYS, 90, s.x, s.t_x, s.T).sum()
        fitted = p.expected_purchases(found.purchases, 90, s.x, s.t_x, s.T).sum()
        assert abs(fitted / truth - 1) <= 0.21
        repeat = s.x > 0
        gap = np.abs(p.probability_alive(found.purchases, s.x, s.t_x, s.T) - p.probability_alive(
            CDNOW_DAYS, s.x, s.t_x, s.T))[repeat].mean()
        assert gap <= 0.17


def test_too_few_buyers_get_a_reason_not_a_prediction():
    s = draw(np.random.default_rng(7), 120, CDNOW_DAYS, CDNOW_SPEND, (1, 273))
    reason = p.fit(s)
    assert isinstance(reason, str) and "too few buyers" in reason and "120 buyers" in reason


def test_a_regular_customer_is_likely_active_and_a_long_silent_one_is_not():
    """Eleven orders a month apart: active if the last was ten days ago, hardly if a year and a half."""
    x, regular_t_x = np.array([10.0, 10.0]), 300.0
    t_x, age = np.array([regular_t_x, regular_t_x]), np.array([regular_t_x + 10, regular_t_x + 540])
    alive = p.probability_alive(CDNOW_DAYS, x, t_x, age)
    assert alive[0] > 0.9 and alive[1] < 0.05
    orders = p.expected_purchases(CDNOW_DAYS, 90, x, t_x, age)
    assert orders[0] > 2 and orders[1] < 0.2
    value = p.predict(p.Fitted(CDNOW_DAYS, CDNOW_SPEND), p.Summary(x, t_x, age, np.array([40.0, 40.0])))[2]
    assert value[0] > 10 * value[1]


def test_a_shop_of_one_price_is_fitted_and_expects_what_it_sells_at():
    """Every order at 40 (a few days with two): Gamma-Gamma's likelihood grows without end as the spread
    between customers shrinks; the bounded fit stops in that limit instead of failing the shop, and every
    expectation lies between the buyer's own average and the shop's."""
    rng = np.random.default_rng(7)
    s = draw(rng, 600, p.BgNbd(0.25, 4.0, 0.8, 2.5), p.GammaGamma(6.0, 4.0, 15.0), (20.0, 80.0))
    spend = np.where(s.x > 0, 40.0, 0.0)
    doubled = (s.x > 0) & (rng.random(len(s.x)) < 0.05)
    spend[doubled] = 40.0 * (s.x[doubled] + 1) / s.x[doubled]  # one of their days had two orders
    found = p.fit(p.Summary(s.x, s.t_x, s.T, spend))
    assert isinstance(found, p.Fitted), found
    repeat = s.x > 0
    expected = p.expected_spend(found.spend, s.x[repeat], spend[repeat])
    shop = p.expected_spend(found.spend, np.zeros(1), np.zeros(1))[0]  # a one-time buyer's: the shop's mean
    assert 40 <= shop <= 45
    low, high = np.minimum(spend[repeat], shop), np.maximum(spend[repeat], shop)
    assert np.all((low - 1e-6 <= expected) & (expected <= high + 1e-6))
