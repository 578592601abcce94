"""Value delivery per use case: realised costs and benefits month by month, and the figures computed from them.

A value entry is money realised in one calendar month: a cost (build, run, licences, inference) or a benefit
by kind, always a non-negative amount (a cost is a positive amount of a cost kind). Every write adjusts the use
case's ``realised_benefit`` / ``realised_cost`` by the difference it makes, under the use case's row lock, so
the pipeline and the dashboard read those columns and never re-sum the entries. Amounts are kept to the cent
and the running totals rounded to the cent after each change, so they stay equal to a fresh sum of the entries.

Expected benefit to date is the use case's ``expected_benefit_annual`` pro-rated over the calendar months since
it entered production (``production_at``), both ends included, up to the current month or the month it was
retired. A use case that never reached production has no expectation yet: benefits realised in a pilot count
as realised but are not measured against a target. The dashboard sums the same rule in SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import as_utc, utcnow
from aicoe.models.portfolio import UseCase, ValueEntry
from aicoe.portfolio import finance, lifecycle, usecases
from aicoe.portfolio.constants import STAGE_LABELS, VALUE_KINDS

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
ENTRY_SORT = {"period": ValueEntry.period, "kind": ValueEntry.kind, "amount": ValueEntry.amount,
              "created_at": ValueEntry.created_at}


# --- input and output ------------------------------------------------------------------------------------------

def _kind(value: str) -> str:
    value = value.strip()
    if value not in VALUE_KINDS:
        raise ValueError(f"unknown kind {value!r}; one of: {', '.join(VALUE_KINDS)}")
    return value


class ValueEntryIn(BaseModel):
    """A realised cost or benefit; ``period`` may be any day, it is kept as the first of its month."""

    model_config = ConfigDict(extra="forbid")

    period: date
    kind: str = Field(max_length=32)
    amount: Money
    quantity: float | None = Field(default=None, allow_inf_nan=False)
    note: Note = ""

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str) -> str:
        return _kind(value)

    @field_validator("period")
    @classmethod
    def _month(cls, value: date) -> date:
        return finance.month_start(value)

    @field_validator("amount")
    @classmethod
    def _cents(cls, value: float) -> float:
        return round(value, 2)


class ValueEntryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: date | None = None
    kind: str | None = Field(default=None, max_length=32)
    amount: Money | None = None
    quantity: float | None = Field(default=None, allow_inf_nan=False)
    note: Note | None = None

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return None if value is None else _kind(value)

    @field_validator("period")
    @classmethod
    def _month(cls, value: date | None) -> date | None:
        return None if value is None else finance.month_start(value)

    @field_validator("amount")
    @classmethod
    def _cents(cls, value: float | None) -> float | None:
        return None if value is None else round(value, 2)


class ValueEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    use_case_id: int
    period: date
    kind: str
    amount: float
    quantity: float | None
    note: str
    created_by_id: int | None
    created_at: datetime


# --- use case lookup and scoping -------------------------------------------------------------------------------


def use_case_by_key(session: Session, principal: Actor, key: str, *, write: str | None = None) -> UseCase:
    """The use case ``key`` if the caller may read it (else 404); with ``write``, locked and checked for that
    permission in its business unit (403: the caller can see it but not change it)."""
    stmt = usecases.use_cases_query(principal).where(UseCase.key == key.strip().upper())
    if write is not None:  # lock the row and re-read it, so running totals never build on a stale value
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    use_case = session.scalar(stmt)
    if use_case is None:
        raise NotFound(f"no use case {key}")
    if write is not None and principal is not None:
        principal.check_unit(write, use_case.business_unit_id, hide=False)
    return use_case


# --- entries ---------------------------------------------------------------------------------------------------

def list_entries(session: Session, principal: Actor, key: str, params: PageParams, *,
                 kind: str | None = None) -> Page[ValueEntry]:
    use_case = use_case_by_key(session, principal, key)
    stmt = select(ValueEntry).where(ValueEntry.use_case_id == use_case.id)
    if kind:
        stmt = stmt.where(ValueEntry.kind == kind)
    return paginate(session, apply_sort(stmt, params.sort, ENTRY_SORT, [ValueEntry.period.desc(), ValueEntry.id]),
                    params)


def _entry(session: Session, use_case: UseCase, entry_id: int) -> ValueEntry:
    entry = session.get(ValueEntry, entry_id)
    if entry is None or entry.use_case_id != use_case.id:
        raise NotFound(f"no value entry {entry_id} on {use_case.key}")
    return entry


def get_entry(session: Session, principal: Actor, key: str, entry_id: int) -> ValueEntry:
    return _entry(session, use_case_by_key(session, principal, key), entry_id)


def _adjust(use_case: UseCase, kind: str, amount: float) -> None:
    """Move the realised total ``kind`` belongs to by ``amount`` (negative to take an entry back out)."""
    if kind.startswith(finance.COST_PREFIX):
        use_case.realised_cost = round(use_case.realised_cost + amount, 2)
    else:
        use_case.realised_benefit = round(use_case.realised_benefit + amount, 2)


def _totals_changed(use_case: UseCase) -> dict[str, Any]:
    return {k: v for k, v in ledger.changed(use_case).items() if k in {"realised_benefit", "realised_cost"}}


def add_entry(session: Session, principal: Actor, key: str, data: ValueEntryIn) -> ValueEntry:
    use_case = use_case_by_key(session, principal, key, write="value:write")
    entry = ValueEntry(use_case_id=use_case.id, created_by_id=None if principal is None else principal.user.id,
                       **data.model_dump())
    session.add(entry)
    _adjust(use_case, entry.kind, entry.amount)
    totals = _totals_changed(use_case)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "value_entry", entry.id,
                  {**ledger.created(entry), "use_case": [None, use_case.key], **totals})
    return entry


def update_entry(session: Session, principal: Actor, key: str, entry_id: int,
                 data: ValueEntryUpdate) -> ValueEntry:
    use_case = use_case_by_key(session, principal, key, write="value:write")
    entry = _entry(session, use_case, entry_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("period", "kind", "amount"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be empty", errors=[FieldError(name, "Cannot be empty.")])
    _adjust(use_case, entry.kind, -entry.amount)
    for name, value in changes.items():
        setattr(entry, name, "" if name == "note" and value is None else value)
    _adjust(use_case, entry.kind, entry.amount)
    diff = {**ledger.changed(entry), **_totals_changed(use_case)}
    if diff:
        ledger.append(session, audit_actor(principal), "update", "value_entry", entry.id,
                      {**diff, "use_case": [use_case.key, use_case.key]})
    return entry


def delete_entry(session: Session, principal: Actor, key: str, entry_id: int) -> None:
    use_case = use_case_by_key(session, principal, key, write="value:write")
    entry = _entry(session, use_case, entry_id)
    _adjust(use_case, entry.kind, -entry.amount)
    diff = {**ledger.deleted(entry), "use_case": [use_case.key, None], **_totals_changed(use_case)}
    session.delete(entry)
    ledger.append(session, audit_actor(principal), "delete", "value_entry", entry_id, diff)


# --- figures for one use case ----------------------------------------------------------------------------------

@dataclass
class StageTime:
    stage: str
    label: str
    days: float


@dataclass
class ValueSummary:
    """Everything the value page and ``GET .../value`` show for one use case."""

    use_case: UseCase
    currency: str
    discount_rate: float
    totals_by_kind: dict[str, float]
    benefits: float
    costs: float
    months: list[finance.MonthFlow]
    cumulative: list[float]
    roi: float | None
    payback_months: float | None
    npv: float | None
    irr: float | None
    expected_annual: float
    expected_to_date: float
    expected_since: date | None
    delivery_days: float | None
    stage_times: list[StageTime] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def net(self) -> float:
        return self.benefits - self.costs

    @property
    def realised_vs_expected(self) -> float | None:
        """Realised benefit as a share of the expected benefit to date (1.0 = on plan); None without a plan."""
        return self.benefits / self.expected_to_date if self.expected_to_date > 0 else None


def expectation_window(use_case: UseCase, today: date) -> tuple[date | None, date]:
    """The months over which benefit is expected: from production until retirement or ``today``."""
    if use_case.production_at is None:
        return None, today
    end = as_utc(use_case.stage_entered_at).date() if use_case.stage == "retired" else today
    return as_utc(use_case.production_at).date(), end


def summary(session: Session, principal: Actor, key: str, *, discount_rate: float, currency: str,
            now: datetime | None = None) -> ValueSummary:
    """The value figures of one use case; reads its own entries (one use case, so no roll-up column needed)."""
    use_case = use_case_by_key(session, principal, key)
    now = now or utcnow()
    rows = session.execute(select(ValueEntry.period, ValueEntry.kind, ValueEntry.amount)
                           .where(ValueEntry.use_case_id == use_case.id)).all()
    totals: dict[str, float] = {k: 0.0 for k in VALUE_KINDS}
    for _, kind, amount in rows:
        totals[kind] = totals.get(kind, 0.0) + amount
    totals = {k: round(v, 2) for k, v in totals.items()}
    benefits = round(sum(v for k, v in totals.items() if k.startswith(finance.BENEFIT_PREFIX)), 2)
    costs = round(sum(v for k, v in totals.items() if k.startswith(finance.COST_PREFIX)), 2)
    months = [finance.MonthFlow(m.period, round(m.costs, 2), round(m.benefits, 2))
              for m in finance.monthly_flows([(p, k, a) for p, k, a in rows])]
    flows = [round(m.net, 2) for m in months]  # money to the cent, so the figures carry no float dust
    start, end = expectation_window(use_case, now.date())
    notes = {}
    roi = finance.roi(benefits=benefits, costs=costs)
    if roi is None:
        notes["roi"] = finance.ROI_UNDEFINED
    payback = finance.payback_months(flows)
    if payback is None:
        notes["payback_months"] = finance.PAYBACK_NEVER if flows else "no value recorded yet"
    irr = finance.irr(flows)
    if irr is None:
        notes["irr"] = "needs both costs and benefits, with a rate that balances them"
    if start is None:
        notes["expected_to_date"] = "benefit is expected from the month the use case enters production"
    delivery = lifecycle.delivery_time(use_case)
    return ValueSummary(
        use_case=use_case, currency=currency, discount_rate=discount_rate, totals_by_kind=totals,
        benefits=benefits, costs=costs, months=months,
        cumulative=[round(c, 2) for c in finance.cumulative(flows)], roi=roi,
        payback_months=payback, npv=finance.npv(flows, annual_rate=discount_rate) if flows else None,
        irr=irr if irr is None or math.isfinite(irr) else None,
        expected_annual=use_case.expected_benefit_annual,
        expected_to_date=round(finance.expected_to_date(use_case.expected_benefit_annual, start=start, end=end), 2),
        expected_since=start, delivery_days=None if delivery is None else round(delivery.total_seconds() / 86400, 2),
        stage_times=[StageTime(stage, STAGE_LABELS.get(stage, stage), round(spent.total_seconds() / 86400, 2))
                     for stage, spent in lifecycle.stage_times(session, use_case, now=now).items()],
        notes=notes,
    )


def resum(session: Session, use_case_id: int) -> tuple[float, float]:
    """A fresh sum of a use case's entries as ``(benefit, cost)``, to check the running totals against."""
    kind_is_cost = ValueEntry.kind.like(f"{finance.COST_PREFIX}%")
    rows = session.execute(select(kind_is_cost, func.coalesce(func.sum(ValueEntry.amount), 0.0))
                           .where(ValueEntry.use_case_id == use_case_id).group_by(kind_is_cost)).all()
    sums = {bool(is_cost): float(total) for is_cost, total in rows}
    return round(sums.get(False, 0.0), 2), round(sums.get(True, 0.0), 2)
