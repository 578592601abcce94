"""Assessments of an AI system against a framework: which requirements apply, the result of each, reuse of
outcomes across frameworks, completion and compliance, the gap list and the summary.

Scoping goes through the assessed system's business unit: reading needs compliance:read there, writing
compliance:write (a record outside the caller's units answers 404). Services flush and audit, never commit.

The two percentages, kept on the assessment after every change (the stage gates read them):

* completion = decided applicable results / applicable results;
* compliance = (met + ½ × partially met) / (applicable results not marked not applicable by the user).

"Applicable" is the catalog's rule for the system (``applicability``); "decided" is met, partially met, not met
or not applicable, and confirmed: an outcome offered from an equivalent requirement counts once confirmed.
With nothing applicable, both are 1 (nothing is left to do). The system's ``assessment_status`` follows its
assessments: "in_progress" while one is open, else "completed" when one is completed, else None.

Reuse: where a cross-framework mapping says two requirements are ``equivalent`` (either direction), a decided
outcome (met, partially met, not met) recorded by a person is offered to the not-started result of the other
requirement in the same system's other open assessments, marked as inferred until someone confirms it or
records their own. If the source changes, its offers follow it; if it is no longer decided, they are withdrawn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.compliance import controls, evidence
from aicoe.compliance.applicability import evaluate, profile_for_system, rules_for
from aicoe.compliance.constants import ASSESSMENT_STATUSES, RESULT_STATUSES, RISK_TIERS
from aicoe.compliance.schemas_assessments import AssessmentCreate, AssessmentUpdate, ResultUpdate
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import utcnow
from aicoe.models.compliance import (
    Assessment,
    Evidence,
    EvidenceLink,
    Framework,
    Requirement,
    RequirementMapping,
    RequirementResult,
)
from aicoe.models.inventory import AISystem
from aicoe.models.org import User

READ, WRITE = "compliance:read", "compliance:write"
DECIDED = ("met", "partially_met", "not_met", "not_applicable")
OFFERED = ("met", "partially_met", "not_met")  # outcomes reused through equivalent mappings
UNDECIDED = ("not_started", "in_progress")
GAP_KINDS: dict[str, str] = {"not_met": "Not met", "overdue": "Overdue", "partially_met": "Partially met"}
RESULT_TARGET = "requirement_result"  # the evidence link target type of a result
SORT_COLUMNS: dict[str, Any] = {"title": func.lower(Assessment.title), "updated_at": Assessment.updated_at,
                                "created_at": Assessment.created_at, "due_date": Assessment.due_date,
                                "completion": Assessment.completion, "compliance": Assessment.compliance}


# --- tallies and percentages -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tally:
    """Counts over results; the percentages follow the formulas in the module docstring."""

    assessments: int = 0
    applicable: int = 0
    decided: int = 0
    met: int = 0
    partially_met: int = 0
    not_applicable: int = 0  # applicable by rule, judged not applicable by a person

    @property
    def completion(self) -> float:
        return self.decided / self.applicable if self.applicable else 1.0

    @property
    def compliance(self) -> float:
        assessed = self.applicable - self.not_applicable
        return (self.met + 0.5 * self.partially_met) / assessed if assessed else 1.0


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _tally_columns() -> list[Any]:
    r = RequirementResult
    counted = and_(r.applicable.is_(True), r.inferred_from_id.is_(None))
    return [func.count(Assessment.id.distinct()), _count_if(r.applicable.is_(True)),
            _count_if(and_(counted, r.status.in_(DECIDED))), _count_if(and_(counted, r.status == "met")),
            _count_if(and_(counted, r.status == "partially_met")),
            _count_if(and_(counted, r.status == "not_applicable"))]


def _tallies(session: Session, key: Any, stmt_filter: Sequence[Any]) -> dict[Any, Tally]:
    """Tallies grouped by ``key`` over the assessments matching ``stmt_filter`` (results outer-joined, so an
    assessment without results still counts)."""
    stmt = (select(key, *_tally_columns()).select_from(Assessment)
            .outerjoin(RequirementResult, RequirementResult.assessment_id == Assessment.id)
            .join(AISystem, AISystem.id == Assessment.ai_system_id).where(*stmt_filter).group_by(key))
    return {row[0]: Tally(*(int(v) for v in row[1:])) for row in session.execute(stmt)}


def _recompute(session: Session, principal: Actor, assessment_ids: Iterable[int]) -> None:
    """Store completion and compliance on each assessment (an audit event where they moved), then the
    systems' assessment status."""
    ids = sorted(set(assessment_ids))
    if not ids:
        return
    session.flush()
    # Lock the rows first (in id order) so that concurrent writers to one assessment take turns: the later one
    # then counts the earlier one's committed results and stores the final figures (PostgreSQL; SQLite
    # serialises writers anyway).
    locked = list(session.scalars(select(Assessment).where(Assessment.id.in_(ids)).order_by(Assessment.id)
                                  .with_for_update().execution_options(populate_existing=True)))
    tallies = _tallies(session, Assessment.id, [Assessment.id.in_(ids)])
    systems: set[int] = set()
    for assessment in locked:
        tally = tallies.get(assessment.id, Tally())
        diff: dict[str, list[Any]] = {}
        for name in ("completion", "compliance"):
            old, new = getattr(assessment, name), getattr(tally, name)
            if old != new:
                setattr(assessment, name, new)
                diff[name] = [old, new]
        if diff:
            ledger.append(session, audit_actor(principal), "recompute", "assessment", assessment.id, diff)
        systems.add(assessment.ai_system_id)
    for system_id in sorted(systems):
        _sync_system_status(session, principal, system_id)


def _sync_system_status(session: Session, principal: Actor, system_id: int) -> None:
    statuses = set(session.scalars(select(Assessment.status).where(Assessment.ai_system_id == system_id)))
    wanted = "in_progress" if "open" in statuses else "completed" if "completed" in statuses else None
    system = session.get(AISystem, system_id)
    if system is not None and system.assessment_status != wanted:
        diff = {"assessment_status": [system.assessment_status, wanted]}
        system.assessment_status = wanted
        ledger.append(session, audit_actor(principal), "update", "ai_system", system_id, diff)


# --- reading -----------------------------------------------------------------------------------------------------

def assessments_query(principal: Actor, permission: str = READ) -> Select[tuple[Assessment]]:
    return (select(Assessment).join(AISystem, AISystem.id == Assessment.ai_system_id)
            .where(in_scope(AISystem.business_unit_id, scope_of(principal, permission))))


def list_assessments(session: Session, principal: Actor, params: PageParams, *, ai_system_id: int | None = None,
                     framework_id: int | None = None, status: str | None = None,
                     business_unit_id: int | None = None, q: str | None = None) -> Page[Assessment]:
    """Sort by title, updated_at (default: most recent first), created_at, due_date, completion or compliance.
    ``q`` matches the title or the system's name, case-insensitively."""
    stmt = assessments_query(principal).options(selectinload(Assessment.ai_system),
                                                selectinload(Assessment.framework), selectinload(Assessment.owner))
    if ai_system_id is not None:
        stmt = stmt.where(Assessment.ai_system_id == ai_system_id)
    if framework_id is not None:
        stmt = stmt.where(Assessment.framework_id == framework_id)
    if choice("status", status, ASSESSMENT_STATUSES):
        stmt = stmt.where(Assessment.status == status)
    if business_unit_id is not None:
        stmt = stmt.where(AISystem.business_unit_id == business_unit_id)
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(Assessment.title).like(pattern, escape="\\"),
                              func.lower(AISystem.name).like(pattern, escape="\\")))
    return paginate(session, apply_sort(stmt, params.sort or "-updated_at", SORT_COLUMNS, [Assessment.id.desc()]),
                    params)


def get_assessment(session: Session, principal: Actor, assessment_id: int) -> Assessment:
    stmt = assessments_query(principal).where(Assessment.id == assessment_id).options(
        selectinload(Assessment.ai_system), selectinload(Assessment.framework), selectinload(Assessment.owner))
    assessment = session.scalar(stmt)
    if assessment is None:
        raise NotFound(f"no assessment {assessment_id}")
    return assessment


def system_assessments(session: Session, principal: Actor, system_id: int) -> list[Assessment]:
    """A system's assessments, open first, then completed, then archived; newest first within each."""
    order = case({"open": 0, "completed": 1}, value=Assessment.status, else_=2)
    stmt = (assessments_query(principal).where(Assessment.ai_system_id == system_id)
            .options(selectinload(Assessment.framework)).order_by(order, Assessment.created_at.desc(),
                                                                 Assessment.id.desc()))
    return list(session.scalars(stmt))


def counts(session: Session, assessment_id: int) -> dict[str, int]:
    """Applicable results by status, plus "out_of_scope" (excluded by rule) and "inferred" (awaiting
    confirmation)."""
    r = RequirementResult
    out = {status: 0 for status in RESULT_STATUSES}
    out["out_of_scope"] = out["inferred"] = 0
    stmt = (select(r.applicable, r.status, r.inferred_from_id.is_not(None), func.count()).where(
        r.assessment_id == assessment_id).group_by(r.applicable, r.status, r.inferred_from_id.is_not(None)))
    for applicable, status, inferred, n in session.execute(stmt):
        if not applicable:
            out["out_of_scope"] += n
            continue
        out[status] += n
        if inferred:
            out["inferred"] += n
    return out


def results_query(assessment_id: int) -> Select[tuple[RequirementResult]]:
    return (select(RequirementResult).where(RequirementResult.assessment_id == assessment_id)
            .options(selectinload(RequirementResult.requirement), selectinload(RequirementResult.owner),
                     selectinload(RequirementResult.inferred_from).selectinload(RequirementResult.requirement)
                     .selectinload(Requirement.framework)))


def _filtered_results(stmt: Select[Any], status: str | None, applicable: bool | None,
                      inferred: bool | None) -> Select[Any]:
    if choice("status", status, RESULT_STATUSES):
        stmt = stmt.where(RequirementResult.status == status)
    if applicable is not None:
        stmt = stmt.where(RequirementResult.applicable.is_(applicable))
    if inferred is not None:
        column = RequirementResult.inferred_from_id
        stmt = stmt.where(column.is_not(None) if inferred else column.is_(None))
    return stmt


def list_results(session: Session, principal: Actor, assessment_id: int, params: PageParams, *,
                 status: str | None = None, applicable: bool | None = None,
                 inferred: bool | None = None) -> Page[RequirementResult]:
    """In the framework's order."""
    get_assessment(session, principal, assessment_id)
    stmt = _filtered_results(results_query(assessment_id), status, applicable, inferred)
    return paginate(session, stmt.order_by(RequirementResult.position, RequirementResult.id), params)


def all_results(session: Session, principal: Actor, assessment_id: int, *, status: str | None = None,
                applicable: bool | None = None, inferred: bool | None = None) -> list[RequirementResult]:
    get_assessment(session, principal, assessment_id)
    stmt = _filtered_results(results_query(assessment_id), status, applicable, inferred)
    return list(session.scalars(stmt.order_by(RequirementResult.position, RequirementResult.id)))


def get_result(session: Session, principal: Actor, assessment_id: int, result_id: int) -> RequirementResult:
    get_assessment(session, principal, assessment_id)
    result = session.scalar(results_query(assessment_id).where(RequirementResult.id == result_id))
    if result is None:
        raise NotFound(f"no result {result_id} in assessment {assessment_id}")
    return result


@dataclass
class Section:
    """Results under one parent of the framework's tree; ``path`` runs from the root to that parent."""

    path: list[Requirement]
    results: list[RequirementResult] = field(default_factory=list)


def grouped(session: Session, framework_id: int, results: Sequence[RequirementResult]) -> list[Section]:
    """Results grouped under their tree parents, sections and results in the framework's order."""
    by_id = {r.id: r for r in session.scalars(select(Requirement).where(Requirement.framework_id == framework_id))}
    sections: dict[int | None, Section] = {}
    for result in results:
        parent_id = result.requirement.parent_id
        if parent_id not in sections:
            path: list[Requirement] = []
            node = by_id.get(parent_id) if parent_id is not None else None
            while node is not None and len(path) < 32:
                path.insert(0, node)
                node = by_id.get(node.parent_id) if node.parent_id is not None else None
            sections[parent_id] = Section(path)
        sections[parent_id].results.append(result)
    return list(sections.values())  # in the order of each section's first result


@dataclass(frozen=True)
class ResultLinks:
    controls: list[controls.EffectiveControl]
    evidence: list[Evidence]


def result_links(session: Session, assessment: Assessment,
                 results: Sequence[RequirementResult]) -> dict[int, ResultLinks]:
    """Per result: the effective controls of the system (direct or inherited) mapped to its requirement, and
    the evidence linked to it."""
    effective = controls.effective_for_system(session, assessment.ai_system_id)
    linked = evidence.linked(session, RESULT_TARGET, [r.id for r in results])
    return {r.id: ResultLinks([c for c in effective if r.requirement_id in c.requirement_ids], linked.get(r.id, []))
            for r in results}


def evidence_choices(session: Session, principal: Actor, unit_id: int, limit: int = 500) -> list[tuple[int, str]]:
    """(id, title) of the latest evidence versions of the unit, for a picker."""
    stmt = (select(Evidence.id, Evidence.title, Evidence.version).where(
        Evidence.is_latest.is_(True), Evidence.business_unit_id == unit_id,
        in_scope(Evidence.business_unit_id, scope_of(principal, READ)))
        .order_by(func.lower(Evidence.title), Evidence.id).limit(limit))
    return [(i, f"{t} (v{v})") for i, t, v in session.execute(stmt)]


# --- equivalents and reuse ---------------------------------------------------------------------------------------

def equivalents(session: Session, requirement_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each requirement id mapped to the requirements an ``equivalent`` mapping ties it to, either direction."""
    ids = sorted(set(requirement_ids))
    out: dict[int, set[int]] = defaultdict(set)
    if not ids:
        return out
    m = RequirementMapping
    rows = session.execute(select(m.source_id, m.target_id).where(
        m.relation == "equivalent", or_(m.source_id.in_(ids), m.target_id.in_(ids))))
    wanted = set(ids)
    for source, target in rows:
        if source in wanted:
            out[source].add(target)
        if target in wanted:
            out[target].add(source)
    return out


def _infer(session: Session, principal: Actor, target: RequirementResult, source: RequirementResult | None) -> None:
    """Offer ``source``'s outcome to ``target`` (or withdraw the offer when ``source`` is None)."""
    before = {"status": target.status, "inferred_from_id": target.inferred_from_id}
    if source is None:
        target.status, target.inferred_from_id = "not_started", None
        action = "withdraw_inference"
    else:
        target.status, target.inferred_from_id = source.status, source.id
        action = "infer"
    diff = {k: [v, getattr(target, k)] for k, v in before.items() if v != getattr(target, k)}
    if diff:
        ledger.append(session, audit_actor(principal), action, RESULT_TARGET, target.id, diff)


def _offerable(result: RequirementResult) -> bool:
    return result.applicable and result.inferred_from_id is None and result.status in OFFERED


def _offer(session: Session, principal: Actor, source: RequirementResult, system_id: int) -> set[int]:
    """Offer (or update, or withdraw) ``source``'s outcome in the system's other open assessments; returns the
    ids of the assessments touched."""
    targets_of = equivalents(session, [source.requirement_id]).get(source.requirement_id)
    if not targets_of:
        return set()
    stmt = (select(RequirementResult).join(RequirementResult.assessment).where(
        Assessment.ai_system_id == system_id, Assessment.status == "open",
        Assessment.id != source.assessment_id, RequirementResult.requirement_id.in_(sorted(targets_of)),
        RequirementResult.applicable.is_(True)).order_by(RequirementResult.id))
    touched: set[int] = set()
    offerable = _offerable(source)
    for target in session.scalars(stmt):
        if target.inferred_from_id == source.id:
            if not offerable:
                _infer(session, principal, target, None)
            elif target.status != source.status:
                _infer(session, principal, target, source)
            else:
                continue
        elif offerable and target.status == "not_started" and target.inferred_from_id is None:
            _infer(session, principal, target, source)
        else:
            continue
        touched.add(target.assessment_id)
    return touched


def _prefill(session: Session, principal: Actor, assessment: Assessment,
             results: Sequence[RequirementResult]) -> None:
    """Offer to ``results`` (not started) the latest decided outcome of an equivalent requirement recorded by a
    person in the same system's other assessments (archived ones aside)."""
    waiting = [r for r in results if r.applicable and r.status == "not_started" and r.inferred_from_id is None]
    eq = equivalents(session, [r.requirement_id for r in waiting])
    wanted = set().union(*eq.values()) if eq else set()
    if not wanted:
        return
    stmt = (select(RequirementResult).join(RequirementResult.assessment).where(
        Assessment.ai_system_id == assessment.ai_system_id, Assessment.status != "archived",
        Assessment.id != assessment.id, RequirementResult.requirement_id.in_(sorted(wanted)),
        RequirementResult.applicable.is_(True), RequirementResult.inferred_from_id.is_(None),
        RequirementResult.status.in_(OFFERED))
        .order_by(RequirementResult.updated_at.desc(), RequirementResult.id.desc()))
    latest: dict[int, RequirementResult] = {}
    for candidate in session.scalars(stmt):
        latest.setdefault(candidate.requirement_id, candidate)
    for result in waiting:
        sources = [latest[i] for i in eq.get(result.requirement_id, ()) if i in latest]
        if sources:
            _infer(session, principal, result, max(sources, key=lambda s: (s.updated_at, s.id)))


# --- checks ------------------------------------------------------------------------------------------------------

def _fail(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field_name}: {message}", errors=[FieldError(field_name, message)])


def _check_person(session: Session, field_name: str, user_id: int | None) -> None:
    if user_id is not None and session.get(User, user_id) is None:
        raise _fail(field_name, f"No person {user_id}.")


def _writable(session: Session, principal: Actor, assessment_id: int, *, open_only: bool = False) -> Assessment:
    assessment = get_assessment(session, principal, assessment_id)
    if principal is not None:
        principal.check_unit(WRITE, assessment.ai_system.business_unit_id)
    if open_only and assessment.status != "open":
        raise Conflict(f"assessment {assessment_id} is {assessment.status}; reopen it to change its results")
    return assessment


def _open_duplicate(session: Session, system_id: int, framework_id: int, exclude: int | None = None) -> int | None:
    stmt = select(Assessment.id).where(Assessment.ai_system_id == system_id, Assessment.framework_id == framework_id,
                                       Assessment.status == "open")
    if exclude is not None:
        stmt = stmt.where(Assessment.id != exclude)
    return session.scalar(stmt.limit(1))


# --- starting ----------------------------------------------------------------------------------------------------

def start(session: Session, principal: Actor, system_id: int, framework_id: int, *, title: str = "",
          owner_id: int | None = None, due_date: date | None = None) -> Assessment:
    """One result per assessable requirement of the framework (which must be the current version): in scope
    (not started) or out of scope by rule (not applicable, the reason as justification); then outcomes of
    equivalent requirements from the system's other assessments are offered as inferred."""
    system = session.scalar(select(AISystem).where(
        AISystem.id == system_id, in_scope(AISystem.business_unit_id, scope_of(principal, READ))))
    if system is None:
        raise _fail("ai_system_id", f"No AI system {system_id}.")
    if principal is not None:
        principal.check_unit(WRITE, system.business_unit_id, hide=False)
    framework = session.get(Framework, framework_id)
    if framework is None:
        raise _fail("framework_id", f"No framework {framework_id}.")
    if not framework.is_current:
        current = session.scalar(select(Framework.version).where(Framework.key == framework.key,
                                                                 Framework.is_current.is_(True)))
        hint = f"; assess against version {current}" if current else ""
        raise _fail("framework_id", f"{framework.name} {framework.version} is not the current version{hint}.")
    _check_person(session, "owner_id", owner_id)
    duplicate = _open_duplicate(session, system.id, framework.id)
    if duplicate is not None:
        raise Conflict(f"{system.name} already has an open assessment against {framework.name} "
                       f"(#{duplicate}); complete or archive it first",
                       errors=[FieldError("framework_id", f"An open assessment #{duplicate} exists already.")])
    requirements = list(session.scalars(select(Requirement).where(Requirement.framework_id == framework.id)
                                        .order_by(Requirement.position, Requirement.id)))
    by_id = {r.id: r for r in requirements}
    profile = profile_for_system(session, system)
    assessment = Assessment(ai_system_id=system.id, framework_id=framework.id,
                            title=title.strip() or f"{framework.name} — {system.name}", status="open",
                            owner_id=owner_id, due_date=due_date, profile=profile, completion=0.0, compliance=0.0,
                            created_by_id=principal.user.id if principal is not None else None)
    for requirement in requirements:
        if not requirement.assessable:
            continue
        applies, reason = evaluate(rules_for(requirement, by_id), profile)
        assessment.results.append(RequirementResult(
            requirement_id=requirement.id, position=requirement.position, applicable=applies,
            applicability_reason=reason, status="not_started" if applies else "not_applicable",
            justification="" if applies else reason))
    session.add(assessment)
    session.flush()
    diff = ledger.created(assessment)
    diff["results"] = [None, len(assessment.results)]
    diff["applicable_results"] = [None, sum(1 for r in assessment.results if r.applicable)]
    ledger.append(session, audit_actor(principal), "create", "assessment", assessment.id, diff)
    _prefill(session, principal, assessment, assessment.results)
    _recompute(session, principal, [assessment.id])
    return assessment


def create(session: Session, principal: Actor, data: AssessmentCreate) -> Assessment:
    return start(session, principal, data.ai_system_id, data.framework_id, title=data.title,
                 owner_id=data.owner_id, due_date=data.due_date)


# --- the assessment itself ---------------------------------------------------------------------------------------

def update_assessment(session: Session, principal: Actor, assessment_id: int, data: AssessmentUpdate) -> Assessment:
    assessment = _writable(session, principal, assessment_id)
    changes = data.model_dump(exclude_unset=True)
    if "title" in changes and changes["title"] is None:
        raise _fail("title", "Cannot be empty.")
    _check_person(session, "owner_id", changes.get("owner_id"))
    for name, value in changes.items():
        setattr(assessment, name, value)
    diff = ledger.changed(assessment)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "assessment", assessment.id, diff)
    return assessment


def _set_status(session: Session, principal: Actor, assessment: Assessment, status: str, action: str) -> Assessment:
    before = {"status": assessment.status, "completed_at": assessment.completed_at}
    assessment.status = status
    assessment.completed_at = utcnow() if status == "completed" else None
    diff = {k: [v, getattr(assessment, k)] for k, v in before.items() if v != getattr(assessment, k)}
    ledger.append(session, audit_actor(principal), action, "assessment", assessment.id, diff)
    session.flush()
    _sync_system_status(session, principal, assessment.ai_system_id)
    return assessment


def complete(session: Session, principal: Actor, assessment_id: int) -> Assessment:
    """Refused (409, naming them) while an applicable result is undecided or awaits confirmation."""
    assessment = _writable(session, principal, assessment_id, open_only=True)
    pending = list(session.scalars(
        select(Requirement.ref).select_from(RequirementResult).join(RequirementResult.requirement).where(
            RequirementResult.assessment_id == assessment.id, RequirementResult.applicable.is_(True),
            or_(RequirementResult.status.in_(UNDECIDED), RequirementResult.inferred_from_id.is_not(None)))
        .order_by(RequirementResult.position)))
    if pending:
        shown = ", ".join(pending[:10]) + (f" and {len(pending) - 10} more" if len(pending) > 10 else "")
        raise Conflict(f"{len(pending)} applicable requirement(s) are not decided or await confirmation "
                       f"({shown}); decide them before completing", pending=pending)
    return _set_status(session, principal, assessment, "completed", "complete")


def archive(session: Session, principal: Actor, assessment_id: int) -> Assessment:
    assessment = _writable(session, principal, assessment_id)
    if assessment.status == "archived":
        raise Conflict(f"assessment {assessment_id} is archived already")
    return _set_status(session, principal, assessment, "archived", "archive")


def reopen(session: Session, principal: Actor, assessment_id: int) -> Assessment:
    """Refused while the system has another open assessment against the same framework version."""
    assessment = _writable(session, principal, assessment_id)
    if assessment.status == "open":
        raise Conflict(f"assessment {assessment_id} is open already")
    duplicate = _open_duplicate(session, assessment.ai_system_id, assessment.framework_id, exclude=assessment.id)
    if duplicate is not None:
        raise Conflict(f"assessment #{duplicate} of the same system and framework is open; archive it first")
    return _set_status(session, principal, assessment, "open", "reopen")


@dataclass
class RefreshReport:
    assessment: Assessment
    included: list[str]  # refs now in scope
    excluded: list[str]  # refs now out of scope
    reasons_updated: list[str]  # refs whose scope held but for another reason


def refresh_applicability(session: Session, principal: Actor, assessment_id: int) -> RefreshReport:
    """Re-evaluate every result against the system's current profile. A result leaving scope keeps a decided
    status (it no longer counts); an undecided one becomes not applicable with the reason. A result coming
    into scope that was only excluded by rule starts again as not started (and may be offered an equivalent's
    outcome)."""
    assessment = _writable(session, principal, assessment_id, open_only=True)
    system = assessment.ai_system
    profile = profile_for_system(session, system)
    by_id = {r.id: r for r in session.scalars(select(Requirement).where(
        Requirement.framework_id == assessment.framework_id))}
    report = RefreshReport(assessment, [], [], [])
    flipped: list[RequirementResult] = []
    for result in session.scalars(results_query(assessment.id).order_by(RequirementResult.position)):
        applies, reason = evaluate(rules_for(by_id[result.requirement_id], by_id), profile)
        by_rule = (not result.applicable and result.status == "not_applicable"
                   and result.justification == result.applicability_reason)
        if applies == result.applicable and reason == result.applicability_reason:
            continue
        before = {k: getattr(result, k) for k in ("applicable", "applicability_reason", "status", "justification",
                                                  "inferred_from_id")}
        if applies != result.applicable:
            flipped.append(result)
            (report.included if applies else report.excluded).append(result.requirement.ref)
            if applies and by_rule:
                result.status, result.justification = "not_started", ""
            elif not applies and (result.status in UNDECIDED or result.inferred_from_id is not None):
                result.status, result.justification, result.inferred_from_id = "not_applicable", reason, None
        else:
            report.reasons_updated.append(result.requirement.ref)
            if by_rule:
                result.justification = reason
        result.applicable, result.applicability_reason = applies, reason
        diff = {k: [v, getattr(result, k)] for k, v in before.items() if v != getattr(result, k)}
        ledger.append(session, audit_actor(principal), "refresh_applicability", RESULT_TARGET, result.id, diff)
    diff: dict[str, list[Any]] = {}
    if profile != assessment.profile:
        diff["profile"] = [assessment.profile, profile]
        assessment.profile = profile
    if report.included:
        diff["included"] = [None, report.included]
    if report.excluded:
        diff["excluded"] = [None, report.excluded]
    if report.reasons_updated:
        diff["reasons_updated"] = [None, report.reasons_updated]
    ledger.append(session, audit_actor(principal), "refresh_applicability", "assessment", assessment.id, diff)
    touched = {assessment.id}
    session.flush()
    _prefill(session, principal, assessment, [r for r in flipped if r.applicable])
    for result in flipped:
        touched |= _offer(session, principal, result, assessment.ai_system_id)
    _recompute(session, principal, touched)
    return report


# --- results -----------------------------------------------------------------------------------------------------

def update_result(session: Session, principal: Actor, assessment_id: int, result_id: int,
                  data: ResultUpdate) -> RequirementResult:
    """Record a person's status, owner, due date, notes or justification. Not applicable needs a justification;
    a result out of scope by rule keeps its status. Any update is the person's own: an inferred mark is cleared."""
    assessment = _writable(session, principal, assessment_id, open_only=True)
    result = get_result(session, principal, assessment.id, result_id)
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        return result
    if "status" in changes and changes["status"] is None:
        raise _fail("status", "Cannot be empty.")
    if not result.applicable and "status" in changes and changes["status"] != result.status:
        raise _fail("status", f"{result.requirement.ref} is out of scope for this system "
                              f"({result.applicability_reason}); refresh the applicability if the system changed.")
    _check_person(session, "owner_id", changes.get("owner_id"))
    for name in ("notes", "justification"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    status = changes.get("status", result.status)
    justification = changes.get("justification", result.justification)
    if status == "not_applicable" and not justification.strip():
        raise _fail("justification", "Explain why this requirement does not apply to the system.")
    for name, value in changes.items():
        setattr(result, name, value)
    result.inferred_from_id = None
    diff = ledger.changed(result)
    if not diff:
        return result
    result.updated_by_id = principal.user.id if principal is not None else None
    ledger.append(session, audit_actor(principal), "update", RESULT_TARGET, result.id, diff)
    session.flush()
    touched = {assessment.id}
    if "status" in diff or "inferred_from_id" in diff:
        touched |= _offer(session, principal, result, assessment.ai_system_id)
    _recompute(session, principal, touched)
    return result


def confirm_result(session: Session, principal: Actor, assessment_id: int, result_id: int) -> RequirementResult:
    """Accept the outcome offered from an equivalent requirement as this assessment's own."""
    assessment = _writable(session, principal, assessment_id, open_only=True)
    result = get_result(session, principal, assessment.id, result_id)
    if result.inferred_from_id is None:
        raise Conflict(f"{result.requirement.ref} has no inferred status to confirm")
    diff = {"inferred_from_id": [result.inferred_from_id, None], "status": [result.status, result.status]}
    result.inferred_from_id = None
    result.updated_by_id = principal.user.id if principal is not None else None
    ledger.append(session, audit_actor(principal), "confirm", RESULT_TARGET, result.id, diff)
    session.flush()
    touched = {assessment.id} | _offer(session, principal, result, assessment.ai_system_id)
    _recompute(session, principal, touched)
    return result


def link_evidence(session: Session, principal: Actor, assessment_id: int, result_id: int,
                  evidence_id: int) -> EvidenceLink:
    """Attach evidence to a result (the evidence service checks the evidence and the caller's rights)."""
    assessment = _writable(session, principal, assessment_id)
    result = get_result(session, principal, assessment.id, result_id)
    return evidence.link(session, principal, evidence_id, RESULT_TARGET, result.id)


# --- gaps and summary --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Gap:
    kind: str  # GAP_KINDS
    result: RequirementResult
    due_date: date | None  # the result's, else the assessment's


def gaps(session: Session, principal: Actor, params: PageParams, *, ai_system_id: int | None = None,
         framework_id: int | None = None, business_unit_id: int | None = None, kind: str | None = None,
         owner_id: int | None = None, today: date | None = None) -> Page[Gap]:
    """Applicable results of open or completed assessments that are not met, partially met, or not started / in
    progress past their due date (the result's, else the assessment's). Not met first, then overdue, then
    partially met; earliest due first."""
    r = RequirementResult
    today = today or utcnow().date()
    due = func.coalesce(r.due_date, Assessment.due_date)
    overdue = and_(r.status.in_(UNDECIDED), due.is_not(None), due < today)
    kind_of = case((r.status == "not_met", "not_met"), (overdue, "overdue"), else_="partially_met")
    stmt = (select(r, kind_of, due).join(r.assessment).join(AISystem, AISystem.id == Assessment.ai_system_id)
            .join(r.requirement)
            .where(in_scope(AISystem.business_unit_id, scope_of(principal, READ)), Assessment.status != "archived",
                   r.applicable.is_(True), or_(r.status.in_(("not_met", "partially_met")), overdue))
            .options(selectinload(r.requirement), selectinload(r.owner),
                     selectinload(r.assessment).selectinload(Assessment.ai_system),
                     selectinload(r.assessment).selectinload(Assessment.framework)))
    if choice("kind", kind, GAP_KINDS):
        stmt = stmt.where(kind_of == kind)
    if ai_system_id is not None:
        stmt = stmt.where(Assessment.ai_system_id == ai_system_id)
    if framework_id is not None:
        stmt = stmt.where(Assessment.framework_id == framework_id)
    if business_unit_id is not None:
        stmt = stmt.where(AISystem.business_unit_id == business_unit_id)
    if owner_id is not None:
        stmt = stmt.where(or_(r.owner_id == owner_id, and_(r.owner_id.is_(None), Assessment.owner_id == owner_id)))
    rank = case((r.status == "not_met", 0), (overdue, 1), else_=2)
    stmt = stmt.order_by(rank, due.is_(None), due, func.lower(AISystem.name), Assessment.id, r.position)
    page = paginate(session, stmt, params, scalars=False)
    return Page(items=[Gap(k, result, d) for result, k, d in page.items], total=page.total, limit=page.limit,
                offset=page.offset)


@dataclass(frozen=True)
class SummaryRow:
    subject: Any  # a Framework or an AISystem
    tally: Tally


@dataclass(frozen=True)
class Summary:
    frameworks: list[SummaryRow]
    systems: list[SummaryRow]


def summary(session: Session, principal: Actor) -> Summary:
    """Per framework version and per AI system: the assessments (archived ones aside) and the completion and
    compliance pooled over their results."""
    where = [in_scope(AISystem.business_unit_id, scope_of(principal, READ)), Assessment.status != "archived"]
    by_framework = _tallies(session, Assessment.framework_id, where)
    by_system = _tallies(session, Assessment.ai_system_id, where)
    frameworks = {f.id: f for f in session.scalars(select(Framework).where(Framework.id.in_(sorted(by_framework))))}
    systems = {s.id: s for s in session.scalars(select(AISystem).where(AISystem.id.in_(sorted(by_system))))}
    return Summary(
        frameworks=sorted((SummaryRow(frameworks[i], t) for i, t in by_framework.items()),
                          key=lambda row: (row.subject.name.lower(), row.subject.version)),
        systems=sorted((SummaryRow(systems[i], t) for i, t in by_system.items()),
                       key=lambda row: row.subject.name.lower()))


def systems_by_tier(session: Session, principal: Actor) -> list[tuple[str, str, int]]:
    """(tier, label, number of AI systems) in the caller's scope, in the order of the tiers; "unclassified"
    last."""
    stmt = (select(AISystem.risk_tier, func.count()).where(
        in_scope(AISystem.business_unit_id, scope_of(principal, READ))).group_by(AISystem.risk_tier))
    found: Mapping[str | None, int] = {tier: n for tier, n in session.execute(stmt)}
    rows = [(tier, label, found.get(tier, 0)) for tier, label in RISK_TIERS.items()]
    rows.append(("unclassified", "Not yet classified", found.get(None, 0)))
    return rows
