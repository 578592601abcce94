"""Strategy: the versioned mission, objectives and KPIs with their measurements, and how a KPI stands.

Strategy is CoE-wide (not scoped by business unit): whoever holds ``strategy:read`` sees all of it, and the
route's ``strategy:write`` is the only check on changes. Every write flushes and records an audit event;
nothing commits here. Bad input is refused before anything is written, with the field named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit, User
from aicoe.models.strategy import Kpi, KpiMeasurement, MissionVersion, Objective
from aicoe.strategy import schemas


def _user_id(principal: Actor) -> int | None:
    return None if principal is None else principal.user.id


def _check_user(session: Session, user_id: int | None, field: str = "owner_id") -> None:
    if user_id is not None and session.get(User, user_id) is None:
        raise ValidationFailed(f"no user {user_id}", errors=[FieldError(field, f"No user {user_id}.")])


# --- mission ---------------------------------------------------------------------------------------------------

def current_mission(session: Session) -> MissionVersion | None:
    return session.scalar(select(MissionVersion).order_by(MissionVersion.version.desc()).limit(1))


def get_mission(session: Session) -> MissionVersion:
    mission = current_mission(session)
    if mission is None:
        raise NotFound("no mission statement has been written yet")
    return mission


def list_mission_versions(session: Session, params: PageParams) -> Page[MissionVersion]:
    stmt = select(MissionVersion).options(selectinload(MissionVersion.created_by))
    sort = {"version": MissionVersion.version, "created_at": MissionVersion.created_at}
    return paginate(session, apply_sort(stmt, params.sort, sort, [MissionVersion.version.desc()]), params)


def revise_mission(session: Session, principal: Actor, data: schemas.MissionIn) -> MissionVersion:
    """Save the mission as version n+1; the same statement and vision as the current version is refused,
    so the history only holds real changes."""
    current = current_mission(session)
    if current is not None and current.statement == data.statement and current.vision == data.vision:
        raise ValidationFailed("nothing changed", errors=[FieldError(
            "statement", f"Nothing changed: this is the text of version {current.version}.")])
    mission = MissionVersion(version=(current.version if current else 0) + 1, statement=data.statement,
                             vision=data.vision, change_note=data.change_note, created_by_id=_user_id(principal))
    try:
        with session.begin_nested():
            session.add(mission)
    except IntegrityError:  # a concurrent revision took the number first
        raise Conflict("the mission was changed at the same time; reload and try again") from None
    ledger.append(session, audit_actor(principal), "create", "mission", mission.version, ledger.created(mission))
    return mission


# --- objectives ------------------------------------------------------------------------------------------------

OBJECTIVE_SORT = {"title": Objective.title, "period_end": Objective.period_end,
                  "period_start": Objective.period_start, "status": Objective.status,
                  "created_at": Objective.created_at}


def _objectives() -> Select[tuple[Objective]]:
    return select(Objective).options(selectinload(Objective.owner), selectinload(Objective.units),
                                     selectinload(Objective.kpis))


def list_objectives(session: Session, params: PageParams, *, status: str | None = None,
                    business_unit_id: int | None = None, q: str | None = None) -> Page[Objective]:
    stmt = _objectives()
    if status:
        if status not in schemas.OBJECTIVE_STATUSES:
            allowed = ", ".join(schemas.OBJECTIVE_STATUSES)
            raise ValidationFailed(f"unknown status {status!r}",
                                   errors=[FieldError("status", f"Unknown status {status!r}; allowed: {allowed}.")])
        stmt = stmt.where(Objective.status == status)
    if business_unit_id is not None:
        stmt = stmt.where(Objective.units.any(BusinessUnit.id == business_unit_id))
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(Objective.title).like(like), func.lower(Objective.description).like(like)))
    return paginate(session, apply_sort(stmt, params.sort, OBJECTIVE_SORT, [Objective.title, Objective.id]), params)


def all_objectives(session: Session) -> list[Objective]:
    return list(session.scalars(_objectives().order_by(Objective.period_end, Objective.title)))


def get_objective(session: Session, objective_id: int) -> Objective:
    objective = session.scalar(_objectives().where(Objective.id == objective_id))
    if objective is None:
        raise NotFound(f"no objective {objective_id}")
    return objective


def _check_title(session: Session, title: str, exclude: int | None) -> None:
    stmt = select(Objective.id).where(func.lower(Objective.title) == title.lower())
    if exclude is not None:
        stmt = stmt.where(Objective.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(f"an objective titled {title!r} already exists",
                       errors=[FieldError("title", f"{title!r} is already taken.")])


def _check_period(start: date, end: date) -> None:
    if end < start:
        raise ValidationFailed("the period ends before it starts", errors=[FieldError(
            "period_end", f"The end ({end.isoformat()}) is before the start ({start.isoformat()}).")])


def _units(session: Session, ids: Sequence[int]) -> list[BusinessUnit]:
    wanted = list(dict.fromkeys(ids))
    found = {u.id: u for u in session.scalars(select(BusinessUnit).where(BusinessUnit.id.in_(wanted)))}
    missing = [i for i in wanted if i not in found]
    if missing:
        listed = ", ".join(str(i) for i in missing)
        raise ValidationFailed(f"no business unit {listed}", errors=[FieldError(
            "business_unit_ids", f"No business unit {listed}.")])
    return sorted(found.values(), key=lambda u: (u.name, u.id))  # the relationship's own order


def _unit_ids(objective: Objective) -> list[int]:
    return sorted(u.id for u in objective.units)


def create_objective(session: Session, principal: Actor, data: schemas.ObjectiveCreate) -> Objective:
    _check_period(data.period_start, data.period_end)
    _check_user(session, data.owner_id)
    units = _units(session, data.business_unit_ids)
    _check_title(session, data.title, None)
    objective = Objective(title=data.title, description=data.description, owner_id=data.owner_id,
                          period_start=data.period_start, period_end=data.period_end, status=data.status)
    objective.units = units
    session.add(objective)
    session.flush()
    diff = ledger.created(objective)
    diff["business_unit_ids"] = [None, _unit_ids(objective)]
    ledger.append(session, audit_actor(principal), "create", "objective", objective.id, diff)
    return objective


def update_objective(session: Session, principal: Actor, objective_id: int,
                     data: schemas.ObjectiveUpdate) -> Objective:
    objective = get_objective(session, objective_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("title", "description", "period_start", "period_end", "status"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be empty", errors=[FieldError(key, "Cannot be empty.")])
    _check_period(changes.get("period_start", objective.period_start),
                  changes.get("period_end", objective.period_end))
    if "owner_id" in changes:
        _check_user(session, changes["owner_id"])
    units = _units(session, changes.pop("business_unit_ids") or []) if "business_unit_ids" in changes else None
    if "title" in changes:
        _check_title(session, changes["title"], objective.id)
    for key, value in changes.items():
        setattr(objective, key, value)
    diff = ledger.changed(objective)
    if units is not None:
        before = _unit_ids(objective)
        objective.units = units
        if sorted(u.id for u in units) != before:
            diff["business_unit_ids"] = [before, _unit_ids(objective)]
    if diff:
        ledger.append(session, audit_actor(principal), "update", "objective", objective.id, diff)
    session.flush()
    session.expire(objective, ["owner"])  # reload it from the new owner_id
    return objective


def delete_objective(session: Session, principal: Actor, objective_id: int) -> None:
    """Delete an objective: its KPIs stay, unlinked (their ``objective_id`` becomes null, recorded in the
    event); the database drops its links to use cases."""
    objective = get_objective(session, objective_id)
    diff: dict[str, Any] = ledger.deleted(objective)
    diff["business_unit_ids"] = [_unit_ids(objective), None]
    unlinked = sorted(k.id for k in objective.kpis)
    if unlinked:
        diff["unlinked_kpi_ids"] = [unlinked, None]
    for kpi in list(objective.kpis):
        kpi.objective_id = None
    session.flush()
    session.delete(objective)
    ledger.append(session, audit_actor(principal), "delete", "objective", objective_id, diff)


# --- KPIs ------------------------------------------------------------------------------------------------------

KPI_SORT = {"name": Kpi.name, "target_date": Kpi.target_date, "created_at": Kpi.created_at,
            "updated_at": Kpi.updated_at}


def _kpis() -> Select[tuple[Kpi]]:
    return select(Kpi).options(selectinload(Kpi.owner), selectinload(Kpi.objective), selectinload(Kpi.measurements))


def list_kpis(session: Session, params: PageParams, *, objective_id: int | None = None,
              q: str | None = None) -> Page[Kpi]:
    stmt = _kpis()
    if objective_id is not None:
        stmt = stmt.where(Kpi.objective_id == objective_id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(Kpi.name).like(like), func.lower(Kpi.description).like(like)))
    return paginate(session, apply_sort(stmt, params.sort, KPI_SORT, [Kpi.name, Kpi.id]), params)


def all_kpis(session: Session) -> list[Kpi]:
    return list(session.scalars(_kpis().order_by(Kpi.name)))


def get_kpi(session: Session, kpi_id: int) -> Kpi:
    kpi = session.scalar(_kpis().where(Kpi.id == kpi_id))
    if kpi is None:
        raise NotFound(f"no KPI {kpi_id}")
    return kpi


def _check_kpi_name(session: Session, name: str, exclude: int | None) -> None:
    stmt = select(Kpi.id).where(func.lower(Kpi.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(Kpi.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(f"a KPI named {name!r} already exists",
                       errors=[FieldError("name", f"{name!r} is already taken.")])


def _check_objective(session: Session, objective_id: int | None) -> None:
    if objective_id is not None and session.get(Objective, objective_id) is None:
        raise ValidationFailed(f"no objective {objective_id}",
                               errors=[FieldError("objective_id", f"No objective {objective_id}.")])


def _check_direction(direction: str, baseline: float, target: float) -> None:
    """The target lies on the better side of the baseline (or equals it: a level to hold)."""
    if direction == "higher" and target < baseline:
        raise ValidationFailed("target below baseline", errors=[FieldError(
            "target", f"Higher is better, so the target cannot be below the baseline ({baseline:g}).")])
    if direction == "lower" and target > baseline:
        raise ValidationFailed("target above baseline", errors=[FieldError(
            "target", f"Lower is better, so the target cannot be above the baseline ({baseline:g}).")])


def create_kpi(session: Session, principal: Actor, data: schemas.KpiCreate) -> Kpi:
    _check_direction(data.direction, data.baseline, data.target)
    _check_objective(session, data.objective_id)
    _check_user(session, data.owner_id)
    _check_kpi_name(session, data.name, None)
    kpi = Kpi(**data.model_dump())
    session.add(kpi)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "kpi", kpi.id, ledger.created(kpi))
    return kpi


def update_kpi(session: Session, principal: Actor, kpi_id: int, data: schemas.KpiUpdate) -> Kpi:
    kpi = get_kpi(session, kpi_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "description", "unit", "direction", "baseline", "target"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be empty", errors=[FieldError(key, "Cannot be empty.")])
    _check_direction(changes.get("direction", kpi.direction), changes.get("baseline", kpi.baseline),
                     changes.get("target", kpi.target))
    if "objective_id" in changes:
        _check_objective(session, changes["objective_id"])
    if "owner_id" in changes:
        _check_user(session, changes["owner_id"])
    if "name" in changes:
        _check_kpi_name(session, changes["name"], kpi.id)
    for key, value in changes.items():
        setattr(kpi, key, value)
    diff = ledger.changed(kpi)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "kpi", kpi.id, diff)
    session.flush()
    session.expire(kpi, ["owner", "objective"])  # reload them from the new ids
    return kpi


def delete_kpi(session: Session, principal: Actor, kpi_id: int) -> None:
    """Delete a KPI with its measurements (their values are kept in the event); use-case links go with it."""
    kpi = get_kpi(session, kpi_id)
    diff: dict[str, Any] = ledger.deleted(kpi)
    if kpi.measurements:
        diff["measurements"] = [[[m.measured_on.isoformat(), m.value] for m in kpi.measurements], None]
    session.delete(kpi)
    ledger.append(session, audit_actor(principal), "delete", "kpi", kpi_id, diff)


# --- measurements ----------------------------------------------------------------------------------------------

def list_measurements(session: Session, kpi_id: int, params: PageParams) -> Page[KpiMeasurement]:
    get_kpi(session, kpi_id)
    stmt = select(KpiMeasurement).where(KpiMeasurement.kpi_id == kpi_id)
    sort = {"measured_on": KpiMeasurement.measured_on, "value": KpiMeasurement.value}
    return paginate(session, apply_sort(stmt, params.sort, sort, [KpiMeasurement.measured_on]), params)


def add_measurement(session: Session, principal: Actor, kpi_id: int, data: schemas.MeasurementIn, *,
                    today: date | None = None) -> KpiMeasurement:
    """Record a value for a date: one per KPI and date (a second is a conflict), never in the future."""
    kpi = get_kpi(session, kpi_id)
    today = today or utcnow().date()
    if data.measured_on > today:
        raise ValidationFailed("measured in the future", errors=[FieldError(
            "measured_on", f"{data.measured_on.isoformat()} is in the future.")])
    duplicate = Conflict(f"{kpi.name!r} already has a measurement on {data.measured_on.isoformat()}",
                         errors=[FieldError("measured_on", "There is already a measurement for this date; "
                                                           "delete it first to replace it.")])
    if any(m.measured_on == data.measured_on for m in kpi.measurements):
        raise duplicate
    measurement = KpiMeasurement(kpi_id=kpi.id, measured_on=data.measured_on, value=data.value, note=data.note,
                                 created_by_id=_user_id(principal))
    try:
        with session.begin_nested():
            session.add(measurement)
    except IntegrityError:  # recorded concurrently
        raise duplicate from None
    kpi.measurements.append(measurement)
    kpi.measurements.sort(key=lambda m: m.measured_on)
    ledger.append(session, audit_actor(principal), "create", "kpi_measurement", measurement.id,
                  ledger.created(measurement))
    return measurement


def delete_measurement(session: Session, principal: Actor, kpi_id: int, measurement_id: int) -> None:
    kpi = get_kpi(session, kpi_id)
    measurement = next((m for m in kpi.measurements if m.id == measurement_id), None)
    if measurement is None:
        raise NotFound(f"KPI {kpi_id} has no measurement {measurement_id}")
    diff = ledger.deleted(measurement)
    kpi.measurements.remove(measurement)
    session.delete(measurement)
    ledger.append(session, audit_actor(principal), "delete", "kpi_measurement", measurement_id, diff)


# --- how a KPI stands ------------------------------------------------------------------------------------------

AT_RISK_MARGIN = 0.15  # progress at most this far (as a share of the way) behind schedule is "at risk"
FLAT = 1e-9


@dataclass(frozen=True)
class KpiStatus:
    latest: float | None
    latest_on: date | None
    previous: float | None
    change: float | None
    trend: str | None  # improving, worsening, flat
    progress: float | None
    expected: float | None
    status: str  # on_track, at_risk, off_track, no_data


def progress_of(value: float, *, baseline: float, target: float, direction: str) -> float:
    """The share of the way from baseline to target: ``(value - baseline) / (target - baseline)``.

    The formula needs no special case for direction: when lower is better the target lies below the
    baseline, so both differences are negative for an improvement. The result is clamped at 0 (no
    progress, or worse than the baseline) and may exceed 1 (beyond the target). When the target equals
    the baseline (a level to hold) progress is 1 at or better than the target, else 0.
    """
    if target == baseline:
        better = value >= target if direction == "higher" else value <= target
        return 1.0 if better else 0.0
    return max(0.0, (value - baseline) / (target - baseline))


def elapsed_share(start: date, as_of: date, target_date: date) -> float:
    """The share of the time from ``start`` to ``target_date`` that has passed at ``as_of``, in 0..1."""
    if target_date <= start:
        return 1.0
    return min(1.0, max(0.0, (as_of - start).days / (target_date - start).days))


def kpi_status(kpi: Kpi, measurements: Sequence[KpiMeasurement] | None = None) -> KpiStatus:
    """How a KPI stands at its latest measurement.

    - latest / previous: the values of the last two measurements by date; ``change`` = latest - previous and
      ``trend`` says whether that change is an improvement for the KPI's direction ("flat" when equal).
    - progress: ``progress_of(latest)``, see there.
    - expected: the share of time elapsed at the latest measurement's date, counted from the first
      measurement's date (the KPI's creation date if that is earlier) to the target date.
    - status, judged as of the latest measurement's date (so it does not drift with the calendar):
      ``on_track`` when progress >= expected (reaching the target always counts as on track);
      ``off_track`` when the target date has been reached without reaching the target;
      ``at_risk`` when progress trails expected by at most ``AT_RISK_MARGIN`` (15 points of the way);
      ``off_track`` when it trails by more. Without a target date only reaching the target is judged (on
      track); anything short of it is "at_risk" (no schedule to fall behind, but not there). ``no_data``
      without measurements.
    """
    points = sorted(kpi.measurements if measurements is None else measurements, key=lambda m: m.measured_on)
    if not points:
        return KpiStatus(None, None, None, None, None, None, None, "no_data")
    last = points[-1]
    prev = points[-2] if len(points) > 1 else None
    change = trend = None
    if prev is not None:
        change = last.value - prev.value
        if abs(change) <= FLAT:
            trend = "flat"
        else:
            trend = "improving" if (change > 0) == (kpi.direction == "higher") else "worsening"
    progress = progress_of(last.value, baseline=kpi.baseline, target=kpi.target, direction=kpi.direction)
    expected = None
    if kpi.target_date is not None:
        start = points[0].measured_on
        if kpi.created_at is not None:
            start = min(start, kpi.created_at.date())
        expected = elapsed_share(start, last.measured_on, kpi.target_date)
    if progress >= 1.0:
        status = "on_track"
    elif expected is None or kpi.target_date is None:
        status = "at_risk"
    elif last.measured_on >= kpi.target_date:
        status = "off_track"
    elif progress >= expected:
        status = "on_track"
    elif expected - progress <= AT_RISK_MARGIN + FLAT:
        status = "at_risk"
    else:
        status = "off_track"
    return KpiStatus(last.value, last.measured_on, prev.value if prev else None, change, trend, progress,
                     expected, status)


STATUS_LABELS = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track", "no_data": "No data"}
TREND_LABELS = {"improving": "Improving", "worsening": "Worsening", "flat": "No change"}
