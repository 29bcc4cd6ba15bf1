from datetime import date
from decimal import Decimal

import pytest

from services.points.loyalty import ledger, wallet
from services.points.loyalty.ledger import (
    AVAILABLE,
    PENDING,
    Entry,
    adjustment_entry,
    moves,
    net_shortfall,
    points_for_purchase,
    points_to_keep,
    purchase_entry,
    release_entries,
    split_takeback,
    takeback,
)
from shared.errors import BadUserInput


@pytest.mark.parametrize("net, points", [
    ("0", 0), ("0.99", 0), ("1", 1), ("45.00", 45), ("45.99", 45), ("1000000", 1000000),
])
def test_one_point_per_whole_currency_unit(net, points):
    assert points_for_purchase(Decimal(net)) == points


def test_multiplier_rounds_down():
    assert points_for_purchase(Decimal("10.50"), multiplier=Decimal("1.5")) == 15


def test_purchase_entry_is_pending_with_a_natural_key_per_order_and_its_rule_version():
    entry = purchase_entry("c-1", "o-9", 12, "evt-1", 3)
    assert entry is not None
    assert (entry.delta, entry.kind, entry.bucket, entry.idempotency_key, entry.source_event_id,
            entry.rule_version) == (12, "earn", PENDING, "order:o-9:earn", "evt-1", 3)
    assert purchase_entry("c-1", "o-9", 0, "evt-2", 3) is None


def test_release_moves_between_buckets_and_earns_nothing_new():
    out, into = release_entries("c-1", "o-1", 45, 2)
    total = [moves(out), moves(into)]
    assert sum(m.pending for m in total) == -45 and sum(m.balance for m in total) == 45
    assert sum(m.lifetime_earned for m in total) == 0
    assert release_entries("c-1", "o-1", 0, 2) == []


def test_moves_per_kind():
    def e(kind, delta, bucket=AVAILABLE):
        return moves(Entry("c", kind, delta, "r", "k", "a", bucket=bucket))
    assert e("earn", 10, PENDING).pending == 10
    assert (e("earn", 10, PENDING).balance, e("earn", 10, PENDING).lifetime_earned) == (0, 10)
    assert (e("adjust", 5).balance, e("adjust", 5).lifetime_earned) == (5, 5)
    assert (e("adjust", -5).balance, e("adjust", -5).lifetime_earned) == (-5, 0)
    assert (e("redeem", -100).balance, e("redeem", -100).lifetime_earned) == (-100, 0)
    assert (e("reverse", -7, PENDING).pending, e("reverse", -7, PENDING).lifetime_earned) == (-7, -7)


@pytest.mark.parametrize("net, voided, earned, taken, points", [
    ("35.00", False, 45, 0, 10),  # refund of 10 on 45
    ("35.00", False, 45, 10, 0),  # the same refund again: nothing more
    ("20.50", False, 45, 10, 15),  # cumulative refund grows to 24.50
    ("45.00", True, 45, 10, 35),  # full refund or cancellation takes the rest
    ("99.00", False, 45, 0, 0),  # never gives points back
])
def test_takeback_is_proportional_and_cumulative(net, voided, earned, taken, points):
    keep = points_to_keep(Decimal(net), Decimal(1), Decimal(1), voided=voided)
    assert takeback(earned, taken, keep) == points


def test_takeback_uses_the_rule_that_earned():
    # earned at rate 2 × multiplier 1.5: 35.00 left keeps 105 of 135
    keep = points_to_keep(Decimal("35.00"), Decimal(2), Decimal("1.5"), voided=False)
    assert takeback(135, 0, keep) == 30


def test_a_takeback_never_overdraws_and_records_the_shortfall():
    assert split_takeback(45, 5) == (5, 40)
    assert split_takeback(45, 100) == (45, 0)
    assert split_takeback(45, 0) == (0, 45)
    assert net_shortfall(40, 45) == 40 and net_shortfall(40, 10) == 10 and net_shortfall(0, 10) == 0


@pytest.mark.parametrize("delta, reason, key", [
    (0, "x", "k"), (10_000_001, "x", "k"), (-10_000_001, "x", "k"), (5, "", "k"), (5, "x" * 501, "k"),
    (5, "x", ""), (5, "x", "k" * 201),
])
def test_bad_adjustments(delta, reason, key):
    with pytest.raises(BadUserInput):
        adjustment_entry("c-1", delta, reason, key, "admin")


def test_bulk_entries_key_each_row_and_answer_bad_rows_in_place():
    from services.points.loyalty.ledger import bulk_entries
    out = bulk_entries("b1", [("c1", 5, "r"), ("c2", 0, "r"), ("", 5, "r"), ("c1", 5, "r")])
    assert [type(x).__name__ for x in out] == ["Entry", "BadUserInput", "BadUserInput", "Entry"]
    assert (out[0].idempotency_key, out[3].idempotency_key) == ("adjust:bulk:b1:0", "adjust:bulk:b1:3")
    for bad in (("b1", []), ("", [("c", 1, "r")]), ("b1", [("c", 1, "r")] * 10_001)):
        with pytest.raises(BadUserInput):
            bulk_entries(*bad)


def test_every_entry_key_names_its_origin():
    assert [ledger.origin(k) for k in (
        "order:1001:earn", "order:1001:release:in", "review:c-1:p-1", "credit:review:c-1:p-1", "referral:r-1",
        "credit:referral:r-1", "signup:c-1", "birthday:c-1:2026", "challenge:ch-1:c-1:again:2",
        "challenge:ch-1:bonus:c-1", "adjust:k-1", "credit:adjust:k-1", "expire:c-1:x", "credit:spend:c-1:k",
    )] == ["purchase", "purchase", "review", "review", "referral", "referral", "signup", "birthday", "challenge",
          "challenge", "adjustment", "adjustment", "other", "other"]
    reward = wallet.referral_reward("r-1", "credit", None, Decimal("20"), 2000)
    assert ledger.origin(f"credit:{reward.key}") == "referral"
    assert ledger.origin(wallet.review_reward("c-1", "p-1", False, {}, Decimal(0), Decimal(0)).key) == "review"


def test_earning_and_redeeming_are_activity_and_arriving_points_are_announced():
    def entry(kind, delta):
        return Entry(customer_id="c", kind=kind, delta=delta, reason="r", idempotency_key="k", actor="system")
    assert [ledger.is_activity(entry(k, -1)) for k in ("earn", "redeem", "adjust", "reverse", "expire", "release")] \
        == [True, True, False, False, False, False]
    assert [ledger.announced(entry(k, d)) for k, d in (("earn", 5), ("adjust", 5), ("release", 5), ("adjust", -5),
                                                      ("reverse", 5), ("earn", 0))] \
        == [True, True, True, False, False, False]


def test_a_purchase_in_another_currency_keeps_its_rate_and_date_on_the_entry():
    entry = ledger.purchase_entry("c1", "o1", 183, "e1", 3, fx=("USD", Decimal("0.9215"), date(2026, 1, 5)))
    assert entry is not None
    assert (entry.fx_currency, entry.fx_rate, entry.fx_date) == ("USD", Decimal("0.9215"), date(2026, 1, 5))
    assert ledger.points_for_purchase(Decimal("199.00") * Decimal("0.9215")) == 183  # 183.3785, rounded down
    plain = ledger.purchase_entry("c1", "o2", 10, "e2", 3)
    assert plain is not None and plain.fx_rate is None
