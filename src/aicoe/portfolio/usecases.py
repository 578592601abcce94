"""Use cases: intake, the stable keys, reading within the caller's business units, editing and deleting.

Every query starts from ``use_cases_query``, already limited to the units the caller may read; a use case
outside them is answered as if it did not exist (404). The stage is never edited here: stage changes are
decisions recorded by the lifecycle service. Services flush and audit, never commit. Use cases are audited
with their key as the entity id ("use_case UC-0007"), the name people search the trail by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, Select, case, cast, exists, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import Page, PageParams, paginate
from aicoe.core.time import utcnow
from aicoe.models.org import BusinessUnit, User
from aicoe.models.portfolio import Counter, ExpectedBenefit, UseCase, use_case_patterns
from aicoe.models.strategy import Kpi, Objective
from aicoe.portfolio import schemas, similarity
from aicoe.portfolio.constants import AI_TYPES, ALL_STAGES

KEY_PREFIX = "UC-"
KEY_COUNTER = "use_case"
DELETABLE_STAGES = frozenset({"idea", "rejected"})
SIMILAR_CANDIDATES = 500  # stored use cases compared in Python per duplicate check, at most
SIMILAR_SHOWN = 10


# --- keys ------------------------------------------------------------------------------------------------------

def format_key(number: int) -> str:
    return f"{KEY_PREFIX}{number:04d}"


def next_number(session: Session, name: str = KEY_COUNTER) -> int:
    """The next value of a named counter. ``UPDATE ... RETURNING`` holds the row lock (PostgreSQL) or the write
    lock (SQLite) until commit, so concurrent submitters queue and never share a number. A missing row is
    created with ``INSERT ... ON CONFLICT DO NOTHING`` first, which is safe when two callers race to create it."""
    bump = update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    value = session.execute(bump).scalar_one_or_none()
    if value is None:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(Counter).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"]))
        value = session.execute(bump).scalar_one()
    return int(value)


def next_key(session: Session) -> str:
    return format_key(next_number(session))


# --- reading ---------------------------------------------------------------------------------------------------

def use_cases_query(principal: Actor, permission: str = "use_case:read") -> Select[tuple[UseCase]]:
    return select(UseCase).where(in_scope(UseCase.business_unit_id, scope_of(principal, permission)))


def _key_number():  # noqa: ANN202 -- a SQL expression: the number after "UC-", so UC-10000 sorts after UC-9999
    return cast(func.substr(UseCase.key, len(KEY_PREFIX) + 1), Integer)


SORT_COLUMNS: dict[str, Any] = {
    "key": _key_number(), "title": UseCase.title, "score_total": UseCase.score_total, "stage": UseCase.stage,
    "submitted_at": UseCase.submitted_at, "target_date": UseCase.target_date,
    "expected_benefit_annual": UseCase.expected_benefit_annual,
}
NULLABLE_SORTS = frozenset({"score_total", "target_date"})


def order_by(stmt: Select[Any], sort: str | None) -> Select[Any]:
    """``sort`` is a comma list of SORT_COLUMNS names, ``-`` for descending; empty scores and dates go last
    either way; newest first by default. Unknown names are a field error."""
    order: list[Any] = []
    for raw in (sort or "").split(","):
        name = raw.strip()
        if not name:
            continue
        key = name.lstrip("-+")
        if key not in SORT_COLUMNS:
            message = f"unknown sort field {key!r}; allowed: {', '.join(sorted(SORT_COLUMNS))}"
            raise ValidationFailed(f"cannot sort by {key!r}", errors=[FieldError("sort", message)])
        column = SORT_COLUMNS[key].desc() if name.startswith("-") else SORT_COLUMNS[key].asc()
        order.append(column.nulls_last() if key in NULLABLE_SORTS else column)
    return stmt.order_by(*order, UseCase.id.desc())


def parse_stages(value: str | Sequence[str] | None) -> list[str]:
    """A stage filter: one stage, a comma list, or a list of them; unknown names are a field error."""
    if value is None:
        return []
    raw = value.split(",") if isinstance(value, str) else [p for v in value for p in v.split(",")]
    stages = [s.strip() for s in raw if s.strip()]
    unknown = [s for s in stages if s not in ALL_STAGES]
    if unknown:
        raise ValidationFailed(f"unknown stage {unknown[0]!r}", errors=[FieldError(
            "stage", f"unknown stage {unknown[0]!r}; allowed: {', '.join(ALL_STAGES)}")])
    return stages


def stage_clause(stages: Sequence[str]) -> Any:
    """``stage IN (...)``, or for a wide selection the exclusion of the few other stages. Both mean the same
    (every stored stage is one of ALL_STAGES), but with the exclusion SQLite does not prefer the stage index
    to the score index when a ranked page is asked for, and a ranked page then reads a few dozen rows."""
    wanted = set(stages)
    others = [s for s in ALL_STAGES if s not in wanted]
    if not others:
        return true()
    if len(others) < len(wanted):
        return UseCase.stage.not_in(others)
    return UseCase.stage.in_(sorted(wanted))


def check_ai_type(value: str | None) -> str | None:
    if value and value not in AI_TYPES:
        raise ValidationFailed(f"unknown AI type {value!r}", errors=[FieldError(
            "ai_type", f"unknown AI type {value!r}; allowed: {', '.join(AI_TYPES)}")])
    return value or None


def filtered(stmt: Select[Any], *, stage: str | Sequence[str] | None = None, business_unit_id: int | None = None,
             ai_type: str | None = None, q: str | None = None, pattern_id: int | None = None,
             owner_id: int | None = None) -> Select[Any]:
    """The list filters shared by the list, the export and the pipeline."""
    stages = parse_stages(stage)
    if stages:
        stmt = stmt.where(stage_clause(stages))
    if business_unit_id is not None:
        stmt = stmt.where(UseCase.business_unit_id == business_unit_id)
    if check_ai_type(ai_type):
        stmt = stmt.where(UseCase.ai_type == ai_type)
    if q and q.strip():
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(UseCase.title).like(like), func.lower(UseCase.key).like(like)))
    if pattern_id is not None:
        stmt = stmt.where(exists().where(use_case_patterns.c.use_case_id == UseCase.id,
                                         use_case_patterns.c.pattern_id == pattern_id))
    if owner_id is not None:
        stmt = stmt.where(UseCase.owner_id == owner_id)
    return stmt


def list_use_cases(session: Session, principal: Actor, params: PageParams, **filters: Any) -> Page[UseCase]:
    stmt = filtered(use_cases_query(principal), **filters).options(
        selectinload(UseCase.business_unit), selectinload(UseCase.owner))
    return paginate(session, order_by(stmt, params.sort), params)


def get_use_case(session: Session, principal: Actor, ref: str | int, *, detail: bool = False) -> UseCase:
    """By key (``UC-0007``, any case) or numeric id; 404 when it does not exist or lies outside the caller's
    units. ``detail`` loads the benefits and links too."""
    stmt = use_cases_query(principal)
    text = str(ref).strip()
    if text.isdigit():
        stmt = stmt.where(UseCase.id == int(text))
    else:
        stmt = stmt.where(UseCase.key == text.upper())
    if detail:
        stmt = stmt.options(selectinload(UseCase.benefits), selectinload(UseCase.objectives),
                            selectinload(UseCase.kpis), selectinload(UseCase.patterns))
    use_case = session.scalar(stmt)
    if use_case is None:
        raise NotFound(f"no use case {text}")
    return use_case


# --- validation of references ------------------------------------------------------------------------------------

def _missing(session: Session, model: Any, ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = set(session.scalars(select(model.id).where(model.id.in_(wanted))))
    return [i for i in wanted if i not in found]


def _check_references(session: Session, values: Mapping[str, Any]) -> None:
    """Every referenced unit, person, objective and KPI exists; all problems are reported at once."""
    errors: list[FieldError] = []
    if values.get("business_unit_id") is not None and _missing(session, BusinessUnit, [values["business_unit_id"]]):
        errors.append(FieldError("business_unit_id", f"No business unit {values['business_unit_id']}."))
    for field in ("sponsor_id", "owner_id"):
        if values.get(field) is not None and _missing(session, User, [values[field]]):
            errors.append(FieldError(field, f"No person {values[field]}."))
    for field, model, label in (("objective_ids", Objective, "objective"), ("kpi_ids", Kpi, "KPI")):
        missing = _missing(session, model, values.get(field) or [])
        if missing:
            errors.append(FieldError(field, f"No {label} {', '.join(map(str, missing))}."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _benefits(items: Sequence[schemas.BenefitIn]) -> list[ExpectedBenefit]:
    return [ExpectedBenefit(kind=b.kind, amount=b.amount, quantity=b.quantity, confidence=b.confidence, note=b.note)
            for b in items]


def _benefit_labels(benefits: Sequence[ExpectedBenefit]) -> list[str]:
    return [f"{b.kind} {b.amount:g} ({b.confidence}%)" for b in benefits]


# --- writing ---------------------------------------------------------------------------------------------------

def create_use_case(session: Session, principal: Actor, data: schemas.UseCaseCreate) -> UseCase:
    """Intake: a new use case in stage "idea" with the next key. A unit-scoped submitter may submit only for
    their own units (403 otherwise); unknown references are field errors; nothing is written on refusal."""
    values = data.model_dump(exclude={"benefits", "objective_ids", "kpi_ids"})
    _check_references(session, data.model_dump())
    if principal is not None:
        principal.check_unit("use_case:submit", data.business_unit_id, hide=False)
    now = utcnow()
    use_case = UseCase(**values, key=next_key(session), stage="idea", submitted_at=now, stage_entered_at=now,
                       submitted_by_id=principal.user.id if principal is not None else None)
    use_case.benefits = _benefits(data.benefits)
    use_case.expected_benefit_annual = sum(b.amount for b in data.benefits)
    use_case.objectives = list(session.scalars(select(Objective).where(Objective.id.in_(data.objective_ids))))
    use_case.kpis = list(session.scalars(select(Kpi).where(Kpi.id.in_(data.kpi_ids))))
    session.add(use_case)
    session.flush()
    diff = ledger.created(use_case)
    diff["benefits"] = [None, _benefit_labels(use_case.benefits)]
    diff["objective_ids"] = [None, sorted(data.objective_ids)]
    diff["kpi_ids"] = [None, sorted(data.kpi_ids)]
    ledger.append(session, audit_actor(principal), "create", "use_case", use_case.key, diff)
    return use_case


NOT_NULL = ("title", "problem_statement", "opportunity_statement", "business_unit_id", "affected_users",
            "data_needed", "personal_data", "ai_type", "benefits", "build_cost_estimate", "run_cost_estimate",
            "delivery_rationale", "objective_ids", "kpi_ids")


def update_use_case(session: Session, principal: Actor, ref: str | int, data: schemas.UseCaseUpdate) -> UseCase:
    """Edit the fields the payload carries. Moving a use case to another unit needs write access there too."""
    use_case = get_use_case(session, principal, ref, detail=True)
    if principal is not None:
        principal.check_unit("use_case:write", use_case.business_unit_id)
    changes = data.model_dump(exclude_unset=True)
    empty = [FieldError(k, "Cannot be empty.") for k in NOT_NULL if k in changes and changes[k] is None]
    if empty:
        raise ValidationFailed("; ".join(f"{e.field}: cannot be empty" for e in empty), errors=empty)
    _check_references(session, changes)
    moving_to = changes.get("business_unit_id", use_case.business_unit_id)
    if principal is not None and moving_to != use_case.business_unit_id:
        principal.check_unit("use_case:write", changes["business_unit_id"], hide=False)
    extra: dict[str, list[Any]] = {}
    if "benefits" in changes:
        before = _benefit_labels(use_case.benefits)
        use_case.benefits = _benefits(data.benefits or [])
        use_case.expected_benefit_annual = sum(b.amount for b in use_case.benefits)
        after = _benefit_labels(use_case.benefits)
        if before != after:
            extra["benefits"] = [before, after]
    for field, model, attr in (("objective_ids", Objective, "objectives"), ("kpi_ids", Kpi, "kpis")):
        if field in changes:
            before_ids = sorted(o.id for o in getattr(use_case, attr))
            wanted = sorted(set(changes[field]))
            if before_ids != wanted:
                setattr(use_case, attr, list(session.scalars(select(model).where(model.id.in_(wanted)))))
                extra[field] = [before_ids, wanted]
    for field, value in changes.items():
        if field not in {"benefits", "objective_ids", "kpi_ids"}:
            setattr(use_case, field, value)
    diff = {**ledger.changed(use_case), **extra}
    if diff:
        ledger.append(session, audit_actor(principal), "update", "use_case", use_case.key, diff)
    return use_case


def delete_use_case(session: Session, principal: Actor, ref: str | int) -> None:
    """Only ideas and rejected use cases can be deleted; anything further along has a decision history."""
    use_case = get_use_case(session, principal, ref)
    if principal is not None:
        principal.check_unit("use_case:write", use_case.business_unit_id)
    if use_case.stage not in DELETABLE_STAGES:
        raise Conflict(f"{use_case.key} is in stage {use_case.stage!r}; only ideas and rejected use cases can be "
                       "deleted (reject or retire it instead)")
    key, diff = use_case.key, ledger.deleted(use_case)
    session.delete(use_case)
    ledger.append(session, audit_actor(principal), "delete", "use_case", key, diff)


# --- duplicate detection ------------------------------------------------------------------------------------------

def similar(session: Session, principal: Actor, title: str, problem_statement: str = "", *,
            exclude_key: str | None = None, limit: int = SIMILAR_SHOWN) -> list[tuple[UseCase, float]]:
    """Existing use cases that read like this one, most similar first (see ``portfolio.similarity``).

    Comparing against every stored use case would not scale, so the database prefilters: up to five probe terms
    (the title's longest, usually rarest, terms) are matched with ``LIKE`` against stored titles, candidates are
    ordered by how many probe terms their title contains, and at most ``SIMILAR_CANDIDATES`` (500) of them are
    loaded and scored in Python. That is one scan of the title column however large the portfolio (100,000 use
    cases included), and bounded work afterwards. A duplicate whose title shares no term with the new title is
    not found; the titles are what submitters word most alike, and what reviewers compare first.
    """
    probes = similarity.probe_terms(title, problem_statement)
    if not probes:
        return []
    title_lower = func.lower(UseCase.title)
    hits = sum((case((title_lower.like(f"%{p}%"), 1), else_=0) for p in probes[1:]),
               start=case((title_lower.like(f"%{probes[0]}%"), 1), else_=0))
    stmt = use_cases_query(principal).where(or_(*(title_lower.like(f"%{p}%") for p in probes)))
    if exclude_key:
        stmt = stmt.where(UseCase.key != exclude_key.upper())
    stmt = stmt.options(selectinload(UseCase.business_unit)).order_by(hits.desc(), UseCase.id.desc())
    candidates = session.scalars(stmt.limit(SIMILAR_CANDIDATES)).all()
    ranked = similarity.rank(title, problem_statement, ((u, u.title, u.problem_statement) for u in candidates))
    return [(u, score) for u, score in ranked[:limit]]  # type: ignore[misc]
