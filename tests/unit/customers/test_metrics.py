"""Retention formulas against docs/domain.md's worked examples and exact definitions."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.customers import metrics
from services.customers.metrics import Counts
from shared.errors import BadUserInput

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def test_worked_examples():
    assert metrics.retention_rate(start=200, end=220, new=50) == 85
    assert metrics.churn_rate(start=500, end=500, new=25) == 5  # 25 of 500 lost
    assert metrics.repeat_purchase_rate(200, 800) == 25
    assert metrics.purchase_frequency(4000, 800) == 5
    assert metrics.average_order_value(Decimal(120000), 3000) == 40
    # CLV = 30 x 8 x 3 over a 365-day period: a yearly churn of 1/3 gives a 3-year lifespan
    days = Decimal(365)
    assert metrics.lifespan_years(Decimal(100) / 3, days).quantize(Decimal("0.0001")) == 3
    assert metrics.lifetime_value(Decimal(30), Decimal(8), Decimal(100) / 3, days).quantize(Decimal("0.01")) == 720


def test_empty_bases_give_zero_not_a_division_error():
    assert metrics.retention_rate(0, 10, 10) == 0 and metrics.churn_rate(0, 10, 10) == 0
    assert metrics.repeat_purchase_rate(0, 0) == 0 and metrics.purchase_frequency(0, 0) == 0
    assert metrics.average_order_value(Decimal(0), 0) == 0


def test_lifespan_scales_churn_to_a_year_and_caps_at_ten():
    half_year = Decimal("182.5")
    assert metrics.lifespan_years(Decimal(25), half_year) == 2  # 25 % per half year = 50 % per year
    assert metrics.lifespan_years(Decimal(0), half_year) == 10
    assert metrics.lifespan_years(Decimal(1), Decimal(365)) == 10  # 100 years, capped


def test_clv_scales_frequency_to_a_year():
    # PF 2 in a quarter-year = 8 per year; churn 12.5 % per quarter = 50 % per year -> 2 years
    quarter = Decimal("91.25")
    assert metrics.lifetime_value(Decimal(30), Decimal(2), Decimal("12.5"), quarter) == 480


def test_compute_puts_the_counts_together():
    counts = Counts(start_active=4, end_active=5, new=2, new_referred=1, buyers=4, repeat_buyers=1, orders=5,
                    revenue=Decimal(500), reorder_base=2, reordered=1, median_days_to_second=Decimal(10),
                    cohorts=[("2026-01", 2, [2, 1, 0])])
    m = metrics.compute(counts, JAN, JAN + timedelta(days=365))
    assert (m.retention, m.churn, m.repeat_purchase, m.frequency, m.aov) == (75, 25, 25, Decimal("1.25"), 100)
    assert m.clv == 500  # 100 x 1.25 x (1 / 0.25)
    assert (m.referral, m.reorder_60d, m.median_days_to_second) == (50, 50, 10)
    assert m.cohorts == [("2026-01", 2, [100, 50, 0])]


def test_range_checks():
    metrics.check_range(JAN, JAN + timedelta(days=3650))
    with pytest.raises(BadUserInput):
        metrics.check_range(JAN, JAN)
    with pytest.raises(BadUserInput):
        metrics.check_range(JAN + timedelta(days=1), JAN)
    with pytest.raises(BadUserInput):
        metrics.check_range(JAN, JAN + timedelta(days=3661))
    with pytest.raises(BadUserInput):
        metrics.check_range(datetime(2026, 1, 1), datetime(2026, 2, 1))


def test_cohort_rows_run_from_the_first_month_to_the_month_the_period_ends_in():
    cells = {(date(2026, 1, 1), date(2026, 1, 1)): 3, (date(2026, 1, 1), date(2026, 3, 1)): 1,
             (date(2026, 2, 1), date(2026, 2, 1)): 2}
    assert metrics.cohorts(cells, datetime(2026, 4, 1, tzinfo=UTC)) == [("2026-01", 3, [3, 0, 1]),
                                                                        ("2026-02", 2, [2, 0])]
    # a period ending one instant into April reaches into April
    assert metrics.cohorts(cells, datetime(2026, 4, 1, 0, 0, 1, tzinfo=UTC))[1] == ("2026-02", 2, [2, 0, 0])
    assert metrics.cohorts({}, datetime(2026, 4, 1, tzinfo=UTC)) == []
