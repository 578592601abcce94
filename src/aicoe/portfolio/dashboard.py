"""Portfolio figures: the dashboard and the value roll-ups by business unit and by strategic objective.

Everything here reads the use case's own columns (stage, dates, the expected and realised totals the services
keep up to date), grouped in SQL; nothing scans value entries or transitions, so the answer time grows with the
number of use cases only, and stays well under 200 ms for 100,000 of them (bench/portfolio.py).

Expected benefit to date follows ``value.py``'s rule: ``expected_benefit_annual`` / 12 per calendar month from
the production month to the current month (or the retirement month), both included; computed in SQL from
month indexes (year * 12 + month, in UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Float, case, cast, func, literal, select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Actor, in_scope
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase, use_case_objectives
from aicoe.models.strategy import Objective
from aicoe.portfolio import finance
from aicoe.portfolio.constants import ALL_STAGES, STAGE_LABELS, STAGES


@dataclass
class Rollup:
    """Value figures summed over a group of use cases (a business unit, an objective, the whole portfolio)."""

    key: str
    label: str
    use_cases: int = 0
    in_production: int = 0
    expected_annual: float = 0.0
    expected_to_date: float = 0.0
    realised_benefit: float = 0.0
    realised_cost: float = 0.0
    unit_id: int | None = None  # for a business unit's roll-up

    @property
    def net(self) -> float:
        return round(self.realised_benefit - self.realised_cost, 2)

    @property
    def roi(self) -> float | None:
        return finance.roi(benefits=self.realised_benefit, costs=self.realised_cost)

    @property
    def realised_vs_expected(self) -> float | None:
        return self.realised_benefit / self.expected_to_date if self.expected_to_date > 0 else None

    def add(self, other: Rollup) -> None:
        for name in ("use_cases", "in_production", "expected_annual", "expected_to_date", "realised_benefit",
                     "realised_cost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def round(self) -> None:
        """Money to the cent once summed (the groups' sums carry float dust)."""
        for name in ("expected_annual", "expected_to_date", "realised_benefit", "realised_cost"):
            setattr(self, name, round(getattr(self, name), 2))


@dataclass
class StageCount:
    stage: str
    label: str
    count: int
    reached: int = 0  # main-path stages: use cases in this stage or further along (on hold counted where they were)


@dataclass
class UnitCount:
    unit_id: int
    code: str
    name: str
    count: int


@dataclass
class TopUseCase:
    key: str
    title: str
    unit_code: str
    stage: str
    realised_benefit: float
    realised_cost: float


@dataclass
class Dashboard:
    total: int
    by_stage: list[StageCount]
    funnel: list[StageCount]
    by_unit: list[UnitCount]
    value: Rollup
    units: list[Rollup]
    delivered: int
    median_delivery_days: float | None
    top: list[TopUseCase] = field(default_factory=list)


def _scope(principal: Actor) -> frozenset[int] | None:
    return None if principal is None else principal.scope("use_case:read")


def _month_index(column: ColumnElement[datetime], postgres: bool) -> ColumnElement[float]:
    """year * 12 + month of a stored UTC instant. On PostgreSQL in UTC (not the session's time zone) and with
    ``date_part``, whose double precision result adds up faster than ``extract``'s numeric."""
    if postgres:
        value = func.timezone("UTC", column)
        return func.date_part("year", value) * 12 + func.date_part("month", value)
    return func.extract("year", column) * 12 + func.extract("month", column)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _expected_months(now: datetime, postgres: bool) -> ColumnElement[float]:
    """Calendar months of expected benefit per use case (0 before production)."""
    end = case((UseCase.stage == "retired", _month_index(UseCase.stage_entered_at, postgres)),
               else_=literal(now.year * 12 + now.month))
    return case((UseCase.production_at.is_(None), 0),
                else_=end - _month_index(UseCase.production_at, postgres) + 1)


def _value_columns(now: datetime, postgres: bool) -> list[ColumnElement[float]]:
    expected = UseCase.expected_benefit_annual * cast(_expected_months(now, postgres), Float) / 12.0
    return [func.count(), func.count(UseCase.production_at), func.sum(UseCase.expected_benefit_annual),
            func.sum(expected), func.sum(UseCase.realised_benefit), func.sum(UseCase.realised_cost)]


def _rollup(key: str, label: str, row: tuple) -> Rollup:
    count, in_prod, annual, to_date, benefit, cost = row
    return Rollup(key, label, int(count or 0), int(in_prod or 0), round(float(annual or 0), 2),
                  round(float(to_date or 0), 2), round(float(benefit or 0), 2), round(float(cost or 0), 2))


@dataclass
class _Group:
    """One (business unit, stage, stage before hold) group of the dashboard's single grouped pass."""

    unit_id: int
    stage: str
    held_at: str | None
    sums: Rollup


def _groups(session: Session, scope: frozenset[int] | None, now: datetime) -> list[_Group]:
    """Counts and value sums per unit, stage and paused stage: one pass over the dashboard's covering index,
    from which the counts by stage and unit, the funnel and the unit roll-ups are all added up."""
    rows = session.execute(
        select(UseCase.business_unit_id, UseCase.stage, UseCase.stage_before_hold,
               *_value_columns(now, _postgres(session)))
        .where(in_scope(UseCase.business_unit_id, scope))
        .group_by(UseCase.business_unit_id, UseCase.stage, UseCase.stage_before_hold)).all()
    return [_Group(r[0], r[1], r[2], _rollup("", "", tuple(r[3:]))) for r in rows]


def _unit_rollups(session: Session, groups: list[_Group]) -> list[Rollup]:
    names = {uid: (code, name) for uid, code, name in session.execute(
        select(BusinessUnit.id, BusinessUnit.code, BusinessUnit.name)
        .where(BusinessUnit.id.in_(sorted({g.unit_id for g in groups}))))}
    units: dict[int, Rollup] = {}
    for g in groups:
        code, name = names[g.unit_id]
        units.setdefault(g.unit_id, Rollup(code, name, unit_id=g.unit_id)).add(g.sums)
    for rollup in units.values():
        rollup.round()
    return sorted(units.values(), key=lambda r: r.label.lower())


def by_unit(session: Session, principal: Actor, *, now: datetime | None = None) -> list[Rollup]:
    """One roll-up per business unit that has use cases the caller may read, by unit name."""
    return _unit_rollups(session, _groups(session, _scope(principal), now or utcnow()))


def by_objective(session: Session, principal: Actor, *, now: datetime | None = None) -> list[Rollup]:
    """One roll-up per strategic objective, by title; a use case serving several objectives counts in each.
    Objectives no visible use case serves are listed with zeros (a gap in the portfolio worth seeing)."""
    now = now or utcnow()
    link = use_case_objectives.c
    rows = session.execute(
        select(link.objective_id, *_value_columns(now, _postgres(session)))
        .join(UseCase, UseCase.id == link.use_case_id)
        .where(in_scope(UseCase.business_unit_id, _scope(principal))).group_by(link.objective_id)).all()
    sums = {r[0]: tuple(r[1:]) for r in rows}
    return [_rollup(str(oid), title, sums.get(oid, (0, 0, 0, 0, 0, 0)))
            for oid, title in session.execute(select(Objective.id, Objective.title).order_by(Objective.title))]


def _funnel(stages: dict[str, int], held: dict[str | None, int]) -> list[StageCount]:
    steps = []
    for i, stage in enumerate(STAGES):
        reached = sum(stages.get(s, 0) + held.get(s, 0) for s in STAGES[i:])
        steps.append(StageCount(stage, STAGE_LABELS[stage], stages.get(stage, 0), reached))
    return steps


def _median_delivery(session: Session, scope: frozenset[int] | None, delivered: int) -> float | None:
    """The middle of the sorted intake-to-production times, sorted and picked by the database."""
    if delivered == 0:
        return None
    if _postgres(session):
        days = func.date_part("epoch", UseCase.production_at - UseCase.submitted_at) / 86400.0
    else:
        days = func.julianday(UseCase.production_at) - func.julianday(UseCase.submitted_at)
    middle = session.scalars(
        select(days).where(UseCase.production_at.is_not(None), in_scope(UseCase.business_unit_id, scope))
        .order_by(days).offset((delivered - 1) // 2).limit(1 if delivered % 2 else 2)).all()
    return round(sum(float(d) for d in middle) / len(middle), 2)


def dashboard(session: Session, principal: Actor, *, now: datetime | None = None, top: int = 10) -> Dashboard:
    """The portfolio at a glance, limited to the caller's business units."""
    now = now or utcnow()
    scope = _scope(principal)
    groups = _groups(session, scope, now)
    stages: dict[str, int] = {}
    held: dict[str | None, int] = {}
    for g in groups:
        stages[g.stage] = stages.get(g.stage, 0) + g.sums.use_cases
        if g.stage == "on_hold":
            held[g.held_at] = held.get(g.held_at, 0) + g.sums.use_cases
    units = _unit_rollups(session, groups)
    total = Rollup("all", "Portfolio")
    for rollup in units:
        total.add(rollup)
    total.round()
    codes = {u.unit_id: u.key for u in units}
    top_rows = session.execute(
        select(UseCase.key, UseCase.title, UseCase.business_unit_id, UseCase.stage, UseCase.realised_benefit,
               UseCase.realised_cost)
        .where(in_scope(UseCase.business_unit_id, scope), UseCase.realised_benefit > 0)
        .order_by(UseCase.realised_benefit.desc(), UseCase.key).limit(top)).all()
    return Dashboard(
        total=total.use_cases,
        by_stage=[StageCount(s, STAGE_LABELS[s], stages.get(s, 0)) for s in ALL_STAGES],
        funnel=_funnel(stages, held),
        by_unit=sorted((UnitCount(u.unit_id or 0, u.key, u.label, u.use_cases) for u in units),
                       key=lambda u: (-u.count, u.name.lower())),
        value=total, units=units, delivered=total.in_production,
        median_delivery_days=_median_delivery(session, scope, total.in_production),
        top=[TopUseCase(k, t, codes.get(u, ""), s, b, c) for k, t, u, s, b, c in top_rows],
    )
