"""Risks: recording them on an AI system, use case, dataset, model or vendor; scoring, treatment, acceptance,
linked controls; the register's filters and the heat map.

Scoping: a risk belongs to its subject's business unit (``Risk.business_unit_id``), and every query starts from
``risks_query``, limited to the caller's units; a risk outside them is answered as if it did not exist (404).
The subject must exist within the units where the caller holds risk:write. Vendors are shared across the group,
so a vendor risk names the business unit that carries it (``business_unit_id``, required for vendor risks only).

Scores are positions on the matrix's axes (1 = its first label); the score is likelihood × impact and the level
comes from the matrix's bands. The residual score (after treatment) may not exceed the inherent one. Where no
residual has been assessed yet the residual equals the inherent one (heat map, filters and the current level).

Acceptance is four-eyes: the owner proposes treatment "accept" with an expiry date; someone else holding
risk:accept for the unit approves it (``accept_risk``), which sets the status "accepted". Once the expiry date is
reached the acceptance shows as "review due" until it is approved again. Changing the scores, the subject, the
treatment or the expiry of an accepted risk voids the approval. Services flush and audit, never commit; risks
are audited by key ("risk RSK-0007").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, Principal, audit_actor, in_scope, scope_of
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import utcnow
from aicoe.models.compliance import Control
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import UseCase
from aicoe.models.risk import Risk, RiskMatrix
from aicoe.portfolio.usecases import next_number
from aicoe.risk import matrix as matrices
from aicoe.risk import schemas
from aicoe.risk.constants import BASES, CATEGORIES, LEVELS, STATUS_FILTERS, SUBJECT_TYPES, TREATMENTS

READ, WRITE, ACCEPT = "risk:read", "risk:write", "risk:accept"
KEY_PREFIX, KEY_COUNTER = "RSK-", "risk"
ACTIVE_STATUSES = ("open", "treating", "accepted")
# Changes that void an approved acceptance: what was approved is no longer what is recorded.
VOIDING = frozenset({"subject_type", "subject_id", "inherent_likelihood", "inherent_impact", "residual_likelihood",
                     "residual_impact", "treatment", "acceptance_expires_on"})


def today() -> date:
    return utcnow().date()


def format_key(number: int) -> str:
    return f"{KEY_PREFIX}{number:04d}"


# --- subjects ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Subject:
    type: str
    id: int
    label: str
    business_unit_id: int | None  # None for vendors (shared across units)
    url: str | None  # None when the record no longer exists

    @property
    def type_label(self) -> str:
        return SUBJECT_TYPES.get(self.type, self.type)


def _subject_rows(session: Session, subject_type: str, ids: Iterable[int]) -> list[Subject]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    if subject_type == "ai_system":
        rows = session.execute(select(AISystem.id, AISystem.name, AISystem.business_unit_id)
                               .where(AISystem.id.in_(wanted)))
        return [Subject("ai_system", i, n, u, f"/ai-systems/{i}") for i, n, u in rows]
    if subject_type == "use_case":
        rows = session.execute(select(UseCase.id, UseCase.key, UseCase.title, UseCase.business_unit_id)
                               .where(UseCase.id.in_(wanted)))
        return [Subject("use_case", i, f"{k} {t}", u, f"/use-cases/{k}") for i, k, t, u in rows]
    if subject_type == "dataset":
        rows = session.execute(select(Dataset.id, Dataset.name, Dataset.business_unit_id)
                               .where(Dataset.id.in_(wanted)))
        return [Subject("dataset", i, n, u, f"/datasets/{i}") for i, n, u in rows]
    if subject_type == "model":
        rows = session.execute(select(Model.id, Model.name, Model.version, Model.business_unit_id)
                               .where(Model.id.in_(wanted)))
        return [Subject("model", i, f"{n} {v}", u, f"/models/{i}") for i, n, v, u in rows]
    rows = session.execute(select(Vendor.id, Vendor.name).where(Vendor.id.in_(wanted)))
    return [Subject("vendor", i, n, None, f"/vendors/{i}") for i, n in rows]


def subjects_of(session: Session, risks: Iterable[Risk]) -> dict[tuple[str, int], Subject]:
    """The subjects of ``risks``, one query per subject type; a deleted subject is kept as a labelled stub."""
    by_type: dict[str, set[int]] = defaultdict(set)
    for risk in risks:
        by_type[risk.subject_type].add(risk.subject_id)
    found = {(s.type, s.id): s for t, ids in by_type.items() for s in _subject_rows(session, t, ids)}
    for subject_type, ids in by_type.items():
        for subject_id in ids:
            found.setdefault((subject_type, subject_id), Subject(
                subject_type, subject_id, f"{SUBJECT_TYPES.get(subject_type, subject_type)} {subject_id} (deleted)",
                None, None))
    return found


def _resolve_subject(session: Session, principal: Actor, subject_type: str, subject_id: int,
                     unit_id: int | None) -> tuple[Subject, int]:
    """The subject and the unit the risk belongs to, or field errors (a subject outside the caller's risk:write
    units reads as missing, so nothing leaks)."""
    scope = scope_of(principal, WRITE)
    label = SUBJECT_TYPES[subject_type]
    found = _subject_rows(session, subject_type, [subject_id])
    subject = found[0] if found else None
    if subject_type == "vendor":
        errors = []
        if subject is None:
            errors.append(FieldError("subject_id", f"No vendor {subject_id}."))
        if unit_id is None:
            errors.append(FieldError("business_unit_id", "A vendor risk names the business unit that carries it."))
        elif session.get(BusinessUnit, unit_id) is None or (scope is not None and unit_id not in scope):
            errors.append(FieldError("business_unit_id", f"No business unit {unit_id} among yours."))
        if errors:
            raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
        assert subject is not None and unit_id is not None
        return subject, unit_id
    if subject is None or subject.business_unit_id is None or (scope is not None and
                                                               subject.business_unit_id not in scope):
        raise ValidationFailed(f"no {label.lower()} {subject_id} in your business units", errors=[
            FieldError("subject_id", f"No {label.lower()} {subject_id} in your business units.")])
    if unit_id is not None and unit_id != subject.business_unit_id:
        raise ValidationFailed("only vendor risks name a business unit", errors=[FieldError(
            "business_unit_id", f"Only vendor risks name a business unit; this risk belongs to its "
                                f"{label.lower()}'s unit. Leave it empty.")])
    return subject, subject.business_unit_id


# --- the view the API and pages read -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    likelihood: int
    impact: int
    likelihood_label: str
    impact_label: str
    score: int
    level: str | None

    @property
    def level_label(self) -> str:
        return LEVELS.get(self.level or "", "—")


def _score(matrix: RiskMatrix, likelihood: int | None, impact: int | None) -> Score | None:
    if likelihood is None or impact is None:
        return None

    def label(labels: list[str], position: int) -> str:
        return labels[position - 1] if 1 <= position <= len(labels) else str(position)

    value = likelihood * impact
    return Score(likelihood, impact, label(matrix.likelihood_labels, likelihood), label(matrix.impact_labels, impact),
                 value, matrices.level(matrix, value))


class RiskView:
    """A risk with its scores read on the matrix, its subject resolved and its date-dependent flags; other
    attributes are the risk's own."""

    def __init__(self, risk: Risk, subject: Subject, matrix: RiskMatrix, on: date) -> None:
        self.risk, self.subject, self._matrix, self._on = risk, subject, matrix, on

    def __getattr__(self, name: str) -> Any:
        return getattr(self.risk, name)

    @property
    def inherent(self) -> Score:
        score = _score(self._matrix, self.risk.inherent_likelihood, self.risk.inherent_impact)
        assert score is not None
        return score

    @property
    def residual(self) -> Score | None:
        return _score(self._matrix, self.risk.residual_likelihood, self.risk.residual_impact)

    @property
    def current(self) -> Score:
        """The residual score where assessed, else the inherent one."""
        return self.residual or self.inherent

    @property
    def level(self) -> str | None:
        return self.current.level

    @property
    def review_due(self) -> bool:
        """An approved acceptance that has reached its expiry date."""
        expires = self.risk.acceptance_expires_on
        return self.risk.status == "accepted" and expires is not None and expires <= self._on

    @property
    def overdue(self) -> bool:
        due = self.risk.due_date
        return self.review_due or (self.risk.status in ("open", "treating") and due is not None and due < self._on)

    @property
    def status_label(self) -> str:
        label = STATUS_FILTERS.get(self.risk.status, self.risk.status)
        return f"{label}, review due" if self.review_due else label

    @property
    def category_label(self) -> str:
        return CATEGORIES.get(self.risk.category, self.risk.category)

    @property
    def treatment_label(self) -> str:
        return TREATMENTS.get(self.risk.treatment or "", "Not decided")


def views(session: Session, risks: Iterable[Risk], *, on: date | None = None) -> list[RiskView]:
    risks = list(risks)
    matrix = matrices.get_matrix(session)
    subjects = subjects_of(session, risks)
    when = on or today()
    return [RiskView(r, subjects[(r.subject_type, r.subject_id)], matrix, when) for r in risks]


def view(session: Session, risk: Risk, *, on: date | None = None) -> RiskView:
    return views(session, [risk], on=on)[0]


# --- reading -------------------------------------------------------------------------------------------------------

def risks_query(principal: Actor, permission: str = READ) -> Select[tuple[Risk]]:
    return select(Risk).where(in_scope(Risk.business_unit_id, scope_of(principal, permission)))


def _axis(basis: str) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """(likelihood, impact) SQL expressions for a basis; the residual falls back to the inherent position."""
    if basis == "inherent":
        return Risk.inherent_likelihood, Risk.inherent_impact
    return (func.coalesce(Risk.residual_likelihood, Risk.inherent_likelihood),
            func.coalesce(Risk.residual_impact, Risk.inherent_impact))


CURRENT_SCORE = func.coalesce(Risk.residual_score, Risk.inherent_score)


def _key_number():  # noqa: ANN202 -- a SQL expression: the number after "RSK-", so RSK-10000 sorts after RSK-9999
    return cast(func.substr(Risk.key, len(KEY_PREFIX) + 1), Integer)


SORT_COLUMNS: dict[str, Any] = {"key": _key_number(), "title": func.lower(Risk.title), "score": CURRENT_SCORE,
                                "inherent_score": Risk.inherent_score, "due_date": Risk.due_date,
                                "updated_at": Risk.updated_at}


def overdue_clause(on: date) -> ColumnElement[bool]:
    return or_(and_(Risk.status.in_(["open", "treating"]), Risk.due_date < on),
               and_(Risk.status == "accepted", Risk.acceptance_expires_on <= on))


def filtered(session: Session, stmt: Select[Any], *, q: str | None = None, category: str | None = None,
             status: str | None = None, level: str | None = None, treatment: str | None = None,
             subject_type: str | None = None, subject_id: int | None = None, owner_id: int | None = None,
             business_unit_id: int | None = None, overdue: bool | None = None, basis: str | None = None,
             likelihood: int | None = None, impact: int | None = None, on: date | None = None) -> Select[Any]:
    """The register's filters. ``level`` is the current level (residual where assessed); ``likelihood`` and
    ``impact`` pick a heat-map cell on ``basis`` (inherent by default); ``status`` "active" means not closed."""
    if q and q.strip():
        stmt = stmt.where(func.lower(Risk.title).like(like_pattern(q), escape="\\"))
    if choice("category", category, CATEGORIES):
        stmt = stmt.where(Risk.category == category)
    if choice("status", status, STATUS_FILTERS):
        stmt = stmt.where(Risk.status.in_(ACTIVE_STATUSES) if status == "active" else Risk.status == status)
    if choice("treatment", treatment, TREATMENTS):
        stmt = stmt.where(Risk.treatment == treatment)
    if choice("level", level, LEVELS):
        bounds = matrices.score_range(matrices.get_matrix(session), level or "")
        stmt = stmt.where(CURRENT_SCORE.between(*bounds) if bounds else Risk.id.is_(None))
    if choice("subject_type", subject_type, SUBJECT_TYPES):
        stmt = stmt.where(Risk.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(Risk.subject_id == subject_id)
    if owner_id is not None:
        stmt = stmt.where(Risk.owner_id == owner_id)
    if business_unit_id is not None:
        stmt = stmt.where(Risk.business_unit_id == business_unit_id)
    if overdue is not None:
        clause = overdue_clause(on or today())
        stmt = stmt.where(clause if overdue else ~clause)
    likelihood_col, impact_col = _axis(choice("basis", basis, BASES) or "inherent")
    if likelihood is not None:
        stmt = stmt.where(likelihood_col == likelihood)
    if impact is not None:
        stmt = stmt.where(impact_col == impact)
    return stmt


def list_risks(session: Session, principal: Actor, params: PageParams, **filters: Any) -> Page[Risk]:
    """Sort by key, title, score (current), inherent_score, due_date or updated_at ('-' for descending);
    highest current score first by default."""
    stmt = filtered(session, risks_query(principal), **filters).options(
        selectinload(Risk.business_unit), selectinload(Risk.owner))
    default = [CURRENT_SCORE.desc(), _key_number()]
    return paginate(session, apply_sort(stmt, params.sort, SORT_COLUMNS, default), params)


def get_risk(session: Session, principal: Actor, key: str, permission: str = READ) -> Risk:
    stmt = risks_query(principal, permission).where(Risk.key == key.strip().upper()).options(
        selectinload(Risk.business_unit), selectinload(Risk.owner), selectinload(Risk.accepted_by),
        selectinload(Risk.controls))
    risk = session.scalar(stmt)
    if risk is None:
        raise NotFound(f"no risk {key}")
    return risk


def risks_on(session: Session, principal: Actor, subjects: Mapping[str, int | None], *,
             include_closed: bool = False) -> list[Risk]:
    """The risks (within the caller's units) recorded on any of ``subjects`` (subject type -> id), highest first."""
    wanted = [and_(Risk.subject_type == t, Risk.subject_id == i) for t, i in subjects.items() if i is not None]
    if not wanted:
        return []
    stmt = risks_query(principal).where(or_(*wanted)).options(selectinload(Risk.owner))
    if not include_closed:
        stmt = stmt.where(Risk.status != "closed")
    return list(session.scalars(stmt.order_by(CURRENT_SCORE.desc(), _key_number())))


@dataclass(frozen=True)
class HeatCell:
    likelihood: int
    impact: int
    score: int
    level: str | None
    count: int


@dataclass(frozen=True)
class HeatMap:
    basis: str
    likelihood_labels: list[str]
    impact_labels: list[str]
    bands: list[matrices.Band]
    cells: list[HeatCell]  # every cell of the matrix, likelihood-major, counts zero where no risk lies

    @property
    def total(self) -> int:
        return sum(c.count for c in self.cells)

    def cell(self, likelihood: int, impact: int) -> HeatCell:
        return self.cells[(likelihood - 1) * len(self.impact_labels) + impact - 1]


def heatmap(session: Session, principal: Actor, basis: str = "inherent", **filters: Any) -> HeatMap:
    """Counts of the live risks (not closed) per (likelihood, impact) on ``basis``, with the register's filters."""
    choice("basis", basis, BASES)
    matrix = matrices.get_matrix(session)
    likelihood_col, impact_col = _axis(basis)
    stmt = filtered(session, select(likelihood_col, impact_col, func.count(Risk.id)), **filters).where(
        in_scope(Risk.business_unit_id, scope_of(principal, READ)), Risk.status != "closed",
    ).group_by(likelihood_col, impact_col)
    counts = {(int(l_), int(i)): n for l_, i, n in session.execute(stmt)}
    cells = [HeatCell(l_, i, l_ * i, matrices.level(matrix, l_ * i), counts.get((l_, i), 0))
             for l_ in range(1, len(matrix.likelihood_labels) + 1) for i in range(1, len(matrix.impact_labels) + 1)]
    return HeatMap(basis, list(matrix.likelihood_labels), list(matrix.impact_labels), matrices.bands(matrix), cells)


# --- validation ----------------------------------------------------------------------------------------------------

def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _check_scores(matrix: RiskMatrix, values: Mapping[str, Any]) -> None:
    """Positions within the axes, residual given whole, and the residual score not above the inherent one."""
    errors: list[FieldError] = []
    for field, labels in (("inherent_likelihood", matrix.likelihood_labels), ("inherent_impact", matrix.impact_labels),
                          ("residual_likelihood", matrix.likelihood_labels), ("residual_impact", matrix.impact_labels)):
        value = values.get(field)
        if value is not None and not 1 <= value <= len(labels):
            errors.append(FieldError(field, f"Choose 1 to {len(labels)} ({labels[0]} to {labels[-1]}); got {value}."))
    _raise(errors)
    residual = (values.get("residual_likelihood"), values.get("residual_impact"))
    if (residual[0] is None) != (residual[1] is None):
        missing = "residual_impact" if residual[1] is None else "residual_likelihood"
        _raise([FieldError(missing, "Give both the residual likelihood and impact, or neither.")])
    if residual[0] is not None and residual[1] is not None:
        inherent = values["inherent_likelihood"] * values["inherent_impact"]
        score = residual[0] * residual[1]
        if score > inherent:
            _raise([FieldError("residual_likelihood", f"The residual score {score} ({residual[0]} × {residual[1]}) "
                                                      f"exceeds the inherent score {inherent}: treatment cannot "
                                                      "make a risk worse. Raise the inherent rating instead.")])


def _check_treatment(values: Mapping[str, Any], on: date) -> None:
    expires = values.get("acceptance_expires_on")
    if values.get("treatment") == "accept":
        if expires is None:
            _raise([FieldError("acceptance_expires_on", "Accepting a risk needs the date its acceptance expires "
                                                        "and must be reviewed.")])
        if expires <= on:
            _raise([FieldError("acceptance_expires_on", f"The acceptance must expire after today ({on}).")])
    elif expires is not None:
        _raise([FieldError("acceptance_expires_on", "Only a risk treated by acceptance has an acceptance expiry.")])


def _check_owner(session: Session, owner_id: int | None) -> None:
    if owner_id is None:
        return
    owner = session.get(User, owner_id)
    if owner is None or not owner.is_active:
        _raise([FieldError("owner_id", f"No active person {owner_id}.")])


def _controls(session: Session, ids: Iterable[int]) -> list[Control]:
    wanted = sorted(set(ids))
    found = list(session.scalars(select(Control).where(Control.id.in_(wanted)).order_by(Control.code))) \
        if wanted else []
    missing = sorted(set(wanted) - {c.id for c in found})
    if missing:
        _raise([FieldError("control_ids", f"No control {', '.join(map(str, missing))}.")])
    return found


def _actor_user_id(principal: Actor) -> int | None:
    return None if principal is None else principal.user.id


# --- writing -------------------------------------------------------------------------------------------------------

def create_risk(session: Session, principal: Actor, data: schemas.RiskCreate) -> Risk:
    values = data.model_dump()
    subject, unit_id = _resolve_subject(session, principal, data.subject_type, data.subject_id, data.business_unit_id)
    matrix = matrices.get_matrix(session)
    _check_scores(matrix, values)
    _check_treatment(values, today())
    _check_owner(session, data.owner_id)
    controls = _controls(session, data.control_ids)
    residual = (data.residual_likelihood * data.residual_impact
                if data.residual_likelihood is not None and data.residual_impact is not None else None)
    risk = Risk(key=format_key(next_number(session, KEY_COUNTER)), business_unit_id=unit_id,
                inherent_score=data.inherent_likelihood * data.inherent_impact, residual_score=residual,
                created_by_id=_actor_user_id(principal),
                **data.model_dump(exclude={"control_ids", "business_unit_id"}))
    risk.controls = controls
    session.add(risk)
    session.flush()
    diff = ledger.created(risk)
    diff["subject"] = [None, subject.label]
    diff["control_ids"] = [None, [c.id for c in controls]]
    ledger.append(session, audit_actor(principal), "create", "risk", risk.key, diff)
    return risk


NOT_NULL = ("title", "description", "category", "inherent_likelihood", "inherent_impact", "status",
            "treatment_plan")


def update_risk(session: Session, principal: Actor, key: str, data: schemas.RiskUpdate) -> Risk:
    """Edit what the payload carries (an explicit null clears optional fields). Re-scoring or re-treating an
    accepted risk voids its approval; moving it to another subject needs risk:write in both units."""
    risk = get_risk(session, principal, key)
    if principal is not None:
        principal.check_unit(WRITE, risk.business_unit_id)
    changes = data.model_dump(exclude_unset=True)
    empty = [FieldError(k, "Cannot be empty.") for k in NOT_NULL if k in changes and changes[k] is None]
    _raise(empty)
    if ("subject_type" in changes) != ("subject_id" in changes) or changes.get("subject_type", "") is None \
            or changes.get("subject_id", 0) is None:
        _raise([FieldError("subject_id", "Give the subject type and id together to move a risk.")])
    if changes.get("treatment", risk.treatment) != "accept" and "acceptance_expires_on" not in changes:
        changes["acceptance_expires_on"] = None  # an expiry belongs to an acceptance only
    merged = {c: getattr(risk, c) for c in ("subject_type", "subject_id", "inherent_likelihood", "inherent_impact",
                                            "residual_likelihood", "residual_impact", "treatment",
                                            "acceptance_expires_on")} | changes
    moving = "subject_type" in changes or "business_unit_id" in changes
    subject_label = None
    if moving:
        unit = changes.get("business_unit_id", risk.business_unit_id if merged["subject_type"] == "vendor" else None)
        subject, unit_id = _resolve_subject(session, principal, merged["subject_type"], merged["subject_id"], unit)
        changes["business_unit_id"], subject_label = unit_id, subject.label
    matrix = matrices.get_matrix(session)
    _check_scores(matrix, merged)
    if (merged["treatment"], merged["acceptance_expires_on"]) != (risk.treatment, risk.acceptance_expires_on):
        _check_treatment(merged, today())
    _check_owner(session, changes.get("owner_id"))
    voided = risk.status == "accepted" and any(merged[f] != getattr(risk, f) for f in VOIDING if f in merged)
    for field, value in changes.items():
        setattr(risk, field, value)
    risk.inherent_score = risk.inherent_likelihood * risk.inherent_impact
    risk.residual_score = (risk.residual_likelihood * risk.residual_impact
                           if risk.residual_likelihood is not None and risk.residual_impact is not None else None)
    if voided:
        risk.accepted_by_id = None
        if "status" not in changes:
            risk.status = "open"
    diff = ledger.changed(risk)
    if subject_label is not None and ("subject_id" in diff or "subject_type" in diff):
        diff["subject"] = [None, subject_label]
    if voided:
        diff["acceptance"] = ["approved", "voided by the change"]
    if diff:
        ledger.append(session, audit_actor(principal), "update", "risk", risk.key, diff)
    session.expire(risk, ["owner", "accepted_by", "business_unit"])  # reload what the changed ids point to
    return risk


def _approver(session: Session, principal: Actor, approver_id: int | None, unit_id: int) -> User:
    if principal is not None:
        principal.check_unit(ACCEPT, unit_id, hide=False)
        return principal.user
    user = session.get(User, approver_id) if approver_id is not None else None
    if user is None or not user.is_active:
        _raise([FieldError("approver_id", "Name an active person who approves the acceptance.")])
    assert user is not None
    if not Principal.resolve(session, user).may(ACCEPT, unit_id):
        _raise([FieldError("approver_id", f"{user.full_name} does not hold risk:accept for this risk's unit.")])
    return user


def accept_risk(session: Session, principal: Actor, key: str, data: schemas.AcceptIn, *,
                approver_id: int | None = None) -> Risk:
    """Approve the acceptance the owner proposed (treatment "accept"). The approver holds risk:accept for the
    risk's unit and is not its owner (four-eyes); the expiry must lie after today. Approving again renews an
    acceptance that is due for review. The system (CLI, seeding) names the approver with ``approver_id``."""
    risk = get_risk(session, principal, key)
    approver = _approver(session, principal, approver_id, risk.business_unit_id)
    if risk.owner_id is not None and approver.id == risk.owner_id:
        raise ValidationFailed("the risk owner cannot approve the acceptance of their own risk (four-eyes)",
                               errors=[FieldError("approver", "Someone other than the risk owner must approve.")])
    if risk.status == "closed":
        raise Conflict(f"{risk.key} is closed; reopen it before accepting it")
    if risk.treatment != "accept":
        raise Conflict(f"{risk.key} is not proposed for acceptance; its owner sets the treatment to 'accept', "
                       "with an expiry date, first")
    expires = data.expires_on or risk.acceptance_expires_on
    on = today()
    if expires is None or expires <= on:
        _raise([FieldError("expires_on", f"The acceptance must expire after today ({on}).")])
    risk.status, risk.accepted_by_id, risk.acceptance_expires_on = "accepted", approver.id, expires
    diff = ledger.changed(risk)
    diff["approver"] = [None, approver.full_name]
    if data.note:
        diff["note"] = [None, data.note]
    ledger.append(session, audit_actor(principal), "accept", "risk", risk.key, diff)
    session.expire(risk, ["accepted_by"])
    return risk


def set_controls(session: Session, principal: Actor, key: str, control_ids: list[int]) -> Risk:
    """Replace the controls that treat the risk (any control of the library; unknown ids are a field error)."""
    risk = get_risk(session, principal, key)
    if principal is not None:
        principal.check_unit(WRITE, risk.business_unit_id)
    controls = _controls(session, control_ids)
    before, after = [c.id for c in risk.controls], [c.id for c in controls]
    if sorted(before) != sorted(after):
        risk.controls = controls
        session.flush()
        ledger.append(session, audit_actor(principal), "set_controls", "risk", risk.key, {
            "control_ids": [sorted(before), sorted(after)], "controls": [None, [c.code for c in controls]]})
    return risk


def delete_risk(session: Session, principal: Actor, key: str) -> None:
    risk = get_risk(session, principal, key)
    if principal is not None:
        principal.check_unit(WRITE, risk.business_unit_id)
    diff = ledger.deleted(risk)
    diff["control_ids"] = [[c.id for c in risk.controls], None]
    risk_key = risk.key
    session.delete(risk)
    session.flush()
    ledger.append(session, audit_actor(principal), "delete", "risk", risk_key, diff)


# --- choices for forms ------------------------------------------------------------------------------------------

PICKER_LIMIT = 500


def subject_choices(session: Session, principal: Principal) -> dict[str, list[tuple[int, str]]]:
    """Per subject type, the records the caller may record risks on (vendors: all of them)."""
    scope = principal.scope(WRITE) if principal.has(WRITE) else frozenset()
    out: dict[str, list[tuple[int, str]]] = {}
    queries: dict[str, Select[Any]] = {
        "ai_system": select(AISystem.id, AISystem.name).where(in_scope(AISystem.business_unit_id, scope))
        .order_by(func.lower(AISystem.name)),
        "use_case": select(UseCase.id, UseCase.key + " " + UseCase.title)
        .where(in_scope(UseCase.business_unit_id, scope)).order_by(UseCase.id.desc()),
        "dataset": select(Dataset.id, Dataset.name).where(in_scope(Dataset.business_unit_id, scope))
        .order_by(func.lower(Dataset.name)),
        "model": select(Model.id, Model.name + " " + Model.version).where(in_scope(Model.business_unit_id, scope))
        .order_by(func.lower(Model.name), Model.version),
        "vendor": select(Vendor.id, Vendor.name).order_by(func.lower(Vendor.name)),
    }
    for subject_type, stmt in queries.items():
        out[subject_type] = [(i, label) for i, label in session.execute(stmt.limit(PICKER_LIMIT))]
    return out


def control_choices(session: Session) -> list[tuple[int, str]]:
    return [(i, f"{c} {n}") for i, c, n in session.execute(
        select(Control.id, Control.code, Control.name).order_by(Control.code).limit(PICKER_LIMIT))]
