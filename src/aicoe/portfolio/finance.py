"""The money arithmetic of the portfolio: monthly cash flows, ROI, payback period, NPV and IRR.

Pure functions over numbers and dates, no database, so a use case's page, the API, the dashboard and the tests
compute every figure the same way (the tests check them against numpy-financial).

Conventions
-----------
* A *flow* is the net money of one calendar month: benefits minus costs. Flows are consecutive months; the
  first is month 0.
* Rates are annual and converted to the equivalent monthly rate ``(1 + r) ** (1 / 12) - 1``, so twelve months
  discounted monthly equal one year discounted annually.
* Discounting starts at month 0, undiscounted: ``npv`` equals ``numpy_financial.npv(monthly_rate, flows)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

COST_PREFIX = "cost_"
BENEFIT_PREFIX = "benefit_"
ROI_UNDEFINED = "ROI is undefined without costs: nothing has been spent yet"
PAYBACK_NEVER = "cumulative net value has not reached zero yet"


@dataclass(frozen=True)
class MonthFlow:
    """Costs and benefits of one calendar month (``period`` is its first day)."""

    period: date
    costs: float
    benefits: float

    @property
    def net(self) -> float:
        return self.benefits - self.costs


def month_start(value: date) -> date:
    """The first day of ``value``'s month (value entries are kept per month)."""
    return value.replace(day=1)


def add_months(value: date, months: int) -> date:
    """The first day of the month ``months`` after ``value``'s month (negative goes back)."""
    index = value.year * 12 + value.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> int:
    """Calendar months from ``start``'s month to ``end``'s month: 0 for the same month, negative when earlier."""
    return (end.year - start.year) * 12 + end.month - start.month


def monthly_flows(entries: Iterable[tuple[date, str, float]], *, start: date | None = None,
                  end: date | None = None) -> list[MonthFlow]:
    """Sum value entries into one flow per calendar month, months without entries included as zeros.

    Parameters
    ----------
    entries
        ``(period, kind, amount)`` triples; ``kind`` starts with ``cost_`` or ``benefit_`` and amounts are
        non-negative (a cost is a positive amount of a cost kind).
    start, end
        Widen the range to begin or finish at these months; by default it runs from the first to the last
        month that has an entry.

    Returns
    -------
    list of MonthFlow
        Consecutive months in order; empty when there are no entries and no range.

    Raises
    ------
    ValueError
        For a kind that is neither a cost nor a benefit.
    """
    costs: dict[date, float] = {}
    benefits: dict[date, float] = {}
    for period, kind, amount in entries:
        month = month_start(period)
        if kind.startswith(COST_PREFIX):
            costs[month] = costs.get(month, 0.0) + amount
        elif kind.startswith(BENEFIT_PREFIX):
            benefits[month] = benefits.get(month, 0.0) + amount
        else:
            raise ValueError(f"value kind {kind!r} is neither a cost nor a benefit")
    months = set(costs) | set(benefits)
    months |= {month_start(d) for d in (start, end) if d is not None}
    if not months:
        return []
    first, last = min(months), max(months)
    return [MonthFlow(m, costs.get(m, 0.0), benefits.get(m, 0.0))
            for m in (add_months(first, i) for i in range(months_between(first, last) + 1))]


def roi(*, benefits: float, costs: float) -> float | None:
    """Return on investment ``(benefits - costs) / costs``, e.g. 0.5 for a 50 % return.

    Returns
    -------
    float or None
        None when ``costs`` is 0: a return relative to nothing spent is undefined (infinite or 0/0), and a
        made-up number would mislead; callers show :data:`ROI_UNDEFINED` instead.
    """
    if costs == 0:
        return None
    return (benefits - costs) / costs


def cumulative(flows: Sequence[float]) -> list[float]:
    """Running totals of ``flows``."""
    out: list[float] = []
    total = 0.0
    for flow in flows:
        total += flow
        out.append(total)
    return out


def payback_months(flows: Sequence[float]) -> float | None:
    """Months from the start of month 0 until the cumulative net value first reaches zero.

    Within the month where the running total turns non-negative the moment is interpolated linearly, assuming
    that month's flow arrives evenly: with flows ``[-100, 40, 40, 40]`` the total is -20 after three months
    and half of month 3's 40 covers it, so payback is 3.5 months. A series that starts non-negative pays back
    at 0.

    Returns
    -------
    float or None
        None when the running total never reaches zero (or there are no flows).
    """
    before = 0.0
    for month, flow in enumerate(flows):
        after = before + flow
        if after >= 0:
            return float(month) if before >= 0 else month + (-before) / flow
        before = after
    return None


def monthly_rate(annual_rate: float) -> float:
    """The monthly rate equivalent to ``annual_rate`` when compounded over twelve months."""
    if annual_rate <= -1:
        raise ValueError("an annual rate must be above -100 %")
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def npv(flows: Sequence[float], *, annual_rate: float) -> float:
    """Net present value of monthly ``flows`` at ``annual_rate``, month 0 undiscounted.

    Parameters
    ----------
    flows
        Net flow per month, month 0 first.
    annual_rate
        Discount rate per year (0.08 for 8 %); applied monthly as :func:`monthly_rate`.

    Returns
    -------
    float
        ``sum(flow_t / (1 + m) ** t)``, equal to ``numpy_financial.npv(monthly_rate(annual_rate), flows)``.
    """
    factor = 1.0 + monthly_rate(annual_rate)
    return sum(flow / factor**t for t, flow in enumerate(flows))


def _npv_monthly(flows: Sequence[float], rate: float) -> float:
    """NPV at a monthly rate; discount factors by repeated multiplication, which cannot overflow."""
    step, factor, total = 1.0 / (1.0 + rate), 1.0, 0.0
    for flow in flows:
        total += flow * factor
        factor *= step
    return total


def irr(flows: Sequence[float], *, tolerance: float = 1e-13, max_iterations: int = 200) -> float | None:
    """The annual rate at which the NPV of monthly ``flows`` is zero (the internal rate of return).

    Found by bisection on the monthly rate between -50 % and 1000 % a month, then annualised as
    ``(1 + m) ** 12 - 1`` so that ``npv(flows, annual_rate=irr(flows))`` is zero. For the usual shape (money
    spent first, returned later: one change of sign) the rate is unique.

    Returns
    -------
    float or None
        None when no rate in that range makes the NPV zero (e.g. all flows of one sign, or all zero).
    """
    if not any(f > 0 for f in flows) or not any(f < 0 for f in flows):
        return None
    low, high = -0.5, 10.0
    f_low, f_high = _npv_monthly(flows, low), _npv_monthly(flows, high)
    if f_low == 0:
        return (1.0 + low) ** 12 - 1.0
    if f_low * f_high > 0:
        return None
    for _ in range(max_iterations):
        mid = (low + high) / 2
        f_mid = _npv_monthly(flows, mid)
        if f_mid == 0 or high - low < tolerance:
            low = high = mid
            break
        if (f_mid > 0) == (f_low > 0):
            low, f_low = mid, f_mid
        else:
            high = mid
    return (1.0 + (low + high) / 2) ** 12 - 1.0


def expected_to_date(annual: float, *, start: date | None, end: date) -> float:
    """An annual expected benefit pro-rated over whole calendar months, ``start``'s and ``end``'s included.

    Returns 0 without a start (nothing expected yet) or when ``end`` lies before ``start``.
    """
    if start is None:
        return 0.0
    months = months_between(start, end) + 1
    return annual * months / 12.0 if months > 0 else 0.0
