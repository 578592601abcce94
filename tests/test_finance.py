"""ROI, payback, NPV and IRR: hand-checked cases, numpy-financial as the oracle, and properties that must hold."""

from __future__ import annotations

import math
from datetime import date

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.portfolio import finance

# A rate whose monthly equivalent is exactly 1 %: hand-checkable discounting.
ONE_PERCENT_A_MONTH = 1.01**12 - 1

money = st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda x: round(x, 2))  # kept to the cent
flow = st.builds(lambda amount, negative: -amount if negative else amount, money, st.booleans())
flows = st.lists(flow, min_size=1, max_size=60)
rates = st.floats(min_value=0, max_value=1, allow_nan=False)


# --- hand-checked ---------------------------------------------------------------------------------------------

def test_roi_is_net_over_costs_and_undefined_without_costs() -> None:
    assert finance.roi(benefits=150.0, costs=100.0) == 0.5
    assert finance.roi(benefits=50.0, costs=200.0) == -0.75
    assert finance.roi(benefits=0.0, costs=80.0) == -1.0
    assert finance.roi(benefits=500.0, costs=0.0) is None
    assert finance.roi(benefits=0.0, costs=0.0) is None


@pytest.mark.parametrize(("series", "expected"), [
    ([-100, 50, 50, 50], 3.0),          # the running total is exactly 0 after three months
    ([-100, 40, 40, 40], 3.5),          # -20 left after three months, half of month 3's 40 covers it
    ([-1200, 0, 300, 300, 300, 300, 300], 6.0),
    ([-1000, 250, 250, 250, 100, 400], 5.375),  # -150 left after five months: 150/400 of month 5
    ([0, 0], 0.0),                      # nothing invested: paid back from the start
    ([10, -5], 0.0),                    # the first month already covers itself
    ([-100, 30, 30], None),             # never reaches zero
    ([], None),
])
def test_payback_months(series: list[float], expected: float | None) -> None:
    assert finance.payback_months(series) == expected


def test_payback_takes_the_first_time_the_total_reaches_zero() -> None:
    # -100, 0 (paid back after 2 months), then a big cost pushes it negative again: still 2.0
    assert finance.payback_months([-100, 100, -500, 10]) == 2.0


def test_monthly_rate_compounds_to_the_annual_rate() -> None:
    assert finance.monthly_rate(ONE_PERCENT_A_MONTH) == pytest.approx(0.01, abs=1e-15)
    assert finance.monthly_rate(0.0) == 0.0
    assert (1 + finance.monthly_rate(0.08)) ** 12 == pytest.approx(1.08, abs=1e-14)
    with pytest.raises(ValueError, match="above -100"):
        finance.monthly_rate(-1.0)


def test_npv_hand_checked() -> None:
    # month 0 undiscounted; 505 / 1.01 = 500; 510.05 / 1.01^2 = 500
    assert finance.npv([-1000, 505, 510.05], annual_rate=ONE_PERCENT_A_MONTH) == pytest.approx(0.0, abs=1e-9)
    assert finance.npv([100, 101], annual_rate=ONE_PERCENT_A_MONTH) == pytest.approx(200.0, abs=1e-9)
    assert finance.npv([-1000, 300, 300, 300, 300], annual_rate=0.0) == 200.0
    assert finance.npv([250.0], annual_rate=0.5) == 250.0  # a single month is never discounted
    assert finance.npv([], annual_rate=0.08) == 0.0


def test_irr_hand_checked() -> None:
    # -1000 now, 1010 a month later: 1 % a month, i.e. 1.01^12 - 1 a year
    assert finance.irr([-1000, 1010]) == pytest.approx(ONE_PERCENT_A_MONTH, abs=1e-9)
    assert finance.irr([-1000, 505, 510.05]) == pytest.approx(ONE_PERCENT_A_MONTH, abs=1e-9)
    assert finance.irr([-100, 100]) == pytest.approx(0.0, abs=1e-9)
    assert finance.irr([100, 50]) is None  # no cost: nothing to return on
    assert finance.irr([-100, -50]) is None
    assert finance.irr([0, 0]) is None


def test_monthly_flows_sums_by_month_and_fills_gaps() -> None:
    entries = [(date(2024, 1, 15), "cost_build", 1000.0), (date(2024, 1, 1), "cost_run", 50.0),
               (date(2024, 3, 31), "benefit_revenue", 700.0), (date(2024, 3, 2), "cost_run", 50.0),
               (date(2024, 4, 1), "benefit_cost_saving", 400.0), (date(2024, 4, 9), "benefit_hours_saved", 25.5)]
    months = finance.monthly_flows(entries)
    assert [(m.period, m.costs, m.benefits, m.net) for m in months] == [
        (date(2024, 1, 1), 1050.0, 0.0, -1050.0),
        (date(2024, 2, 1), 0.0, 0.0, 0.0),
        (date(2024, 3, 1), 50.0, 700.0, 650.0),
        (date(2024, 4, 1), 0.0, 425.5, 425.5),
    ]
    widened = finance.monthly_flows(entries, start=date(2023, 12, 20), end=date(2024, 5, 2))
    assert [m.period for m in widened][0] == date(2023, 12, 1) and widened[-1].period == date(2024, 5, 1)
    assert finance.monthly_flows([]) == []
    assert [m.period for m in finance.monthly_flows([], start=date(2024, 12, 5), end=date(2025, 1, 1))] == [
        date(2024, 12, 1), date(2025, 1, 1)]
    with pytest.raises(ValueError, match="neither a cost nor a benefit"):
        finance.monthly_flows([(date(2024, 1, 1), "gift", 1.0)])


def test_month_helpers() -> None:
    assert finance.add_months(date(2024, 11, 30), 3) == date(2025, 2, 1)
    assert finance.add_months(date(2024, 1, 10), -1) == date(2023, 12, 1)
    assert finance.months_between(date(2023, 11, 30), date(2024, 2, 1)) == 3
    assert finance.months_between(date(2024, 2, 1), date(2024, 2, 29)) == 0
    assert finance.months_between(date(2024, 3, 1), date(2024, 2, 1)) == -1


def test_expected_to_date_counts_whole_months_both_ends_included() -> None:
    assert finance.expected_to_date(12_000.0, start=date(2024, 1, 20), end=date(2024, 6, 1)) == 6_000.0
    assert finance.expected_to_date(12_000.0, start=date(2024, 6, 30), end=date(2024, 6, 30)) == 1_000.0
    assert finance.expected_to_date(12_000.0, start=None, end=date(2024, 6, 1)) == 0.0
    assert finance.expected_to_date(12_000.0, start=date(2024, 7, 1), end=date(2024, 6, 1)) == 0.0


# --- numpy-financial as the oracle ----------------------------------------------------------------------------

@given(flows, rates)
def test_npv_matches_numpy_financial(series: list[float], annual: float) -> None:
    expected = float(npf.npv(finance.monthly_rate(annual), series))
    assert finance.npv(series, annual_rate=annual) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@given(money.filter(lambda x: x >= 1), st.lists(money, min_size=1, max_size=36))
@settings(max_examples=200)
def test_irr_matches_numpy_financial_for_invest_then_return(investment: float, returns: list[float]) -> None:
    series = [-investment, *returns]
    ours = finance.irr(series)
    if sum(returns) == 0:
        assert ours is None
        return
    monthly = float(npf.irr(series))
    if math.isnan(monthly) or not -0.5 < monthly < 10:  # outside the range we search: we must say so
        assert ours is None or finance.npv(series, annual_rate=ours) == pytest.approx(0, abs=1e-6 * investment)
        return
    assert ours is not None
    assert (1 + ours) ** (1 / 12) - 1 == pytest.approx(monthly, rel=1e-6, abs=1e-9)


# --- properties -----------------------------------------------------------------------------------------------

@given(flows)
def test_npv_at_rate_zero_is_the_sum(series: list[float]) -> None:
    assert finance.npv(series, annual_rate=0.0) == pytest.approx(math.fsum(series), rel=1e-9, abs=1e-6)


@given(flows, rates, rates)
def test_npv_of_positive_flows_falls_as_the_rate_rises(series: list[float], a: float, b: float) -> None:
    positive = [abs(f) for f in series]
    low, high = sorted((a, b))
    assert finance.npv(positive, annual_rate=high) <= finance.npv(positive, annual_rate=low) + 1e-6


@given(flows)
def test_payback_is_consistent_with_the_running_totals(series: list[float]) -> None:
    payback = finance.payback_months(series)
    totals = finance.cumulative(series)
    if payback is None:
        assert all(t < 0 for t in totals)
        return
    month = max(math.ceil(payback) - 1, 0)  # payback k + f with 0 < f <= 1 falls in month k (0 stays 0)
    assert totals[month] >= 0  # paid back by the end of the month the payback falls in
    assert all(t < 0 for t in totals[:month])  # and not earlier
    assert 0 <= payback <= len(series)


@given(flows)
def test_roi_sign_follows_net_value(series: list[float]) -> None:
    benefits = sum(f for f in series if f > 0)
    costs = -sum(f for f in series if f < 0)
    value = finance.roi(benefits=benefits, costs=costs)
    if costs == 0:
        assert value is None
    else:
        assert value == pytest.approx((benefits - costs) / costs)
        assert (value >= 0) == (benefits >= costs)
