"""EU AI Act classifications of AI systems: run the classifier over the answers, store the result as a new version,
and keep the system's risk tier (and its EU AI Act role) in step.

A system's classifications are versioned 1, 2, 3…; only the latest is ``is_current``. Reading needs
compliance:read and writing compliance:write, both for the system's business unit: a system outside the caller's
units answers 404 as if it did not exist. Services flush and audit, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.compliance import eu_ai_act
from aicoe.compliance.constants import RISK_TIERS
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.filters import choice
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.models.compliance import Classification, Framework, Requirement
from aicoe.models.inventory import AISystem

READ, WRITE = "compliance:read", "compliance:write"
CATALOG_KEY = "eu-ai-act"
_LOAD = (selectinload(Classification.classified_by), selectinload(Classification.ai_system))
SORT_COLUMNS: dict[str, Any] = {"name": func.lower(AISystem.name), "tier": Classification.tier,
                                "classified_at": Classification.created_at}


def visible_system(session: Session, principal: Actor, system_id: int, permission: str = READ) -> AISystem:
    # writing locks the system's row (PostgreSQL), so concurrent classifications queue for the next version number
    system = session.get(AISystem, system_id, with_for_update=permission == WRITE)
    if system is None:
        raise NotFound(f"no AI system {system_id}")
    if principal is not None:
        principal.check_unit(permission, system.business_unit_id)
    return system


def preview(answers: Mapping[str, Any]) -> eu_ai_act.ClassificationResult:
    """Classify without storing anything; bad answers are a ValidationFailed naming each question as the field."""
    try:
        return eu_ai_act.classify(answers)
    except eu_ai_act.ClassificationInputError as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(q, m) for q, m in exc.problems]) from None


def classify_system(session: Session, principal: Actor, system_id: int, answers: Mapping[str, Any],
                    notes: str = "") -> Classification:
    """Store a new current classification; the previous one stays as history. Sets ``AISystem.risk_tier`` and,
    when the answered role differs, ``AISystem.eu_ai_act_role``."""
    system = visible_system(session, principal, system_id, WRITE)
    result = preview(answers)
    previous = current(session, system.id)
    last = session.scalar(select(func.max(Classification.version)).where(Classification.ai_system_id == system.id))
    if previous is not None:
        previous.is_current = False
        ledger.append(session, audit_actor(principal), "supersede", "classification", previous.id,
                      ledger.changed(previous))
    record = Classification(
        ai_system_id=system.id, version=(last or 0) + 1, is_current=True,
        questionnaire_version=result.questionnaire_version, answers=result.answers, tier=result.tier,
        gpai=result.gpai, obligations=[o.as_dict() for o in result.obligations],
        rationale=[r.as_dict() for r in result.rationale], notes=notes, ai_system=system,
        classified_by=principal.user if principal is not None else None)
    session.add(record)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "classification", record.id, ledger.created(record))
    system.risk_tier = result.tier
    if system.eu_ai_act_role != result.role:
        system.eu_ai_act_role = result.role
    diff = ledger.changed(system)
    diff["classification_version"] = [previous.version if previous else None, record.version]
    ledger.append(session, audit_actor(principal), "classify", "ai_system", system.id, diff)
    return record


def current(session: Session, system_id: int) -> Classification | None:
    """The system's current classification (no scoping: callers have already checked the system)."""
    return session.scalar(select(Classification).options(*_LOAD)
                          .where(Classification.ai_system_id == system_id, Classification.is_current.is_(True)))


def get_current(session: Session, principal: Actor, system_id: int) -> Classification:
    system = visible_system(session, principal, system_id)
    record = current(session, system.id)
    if record is None:
        raise NotFound(f"AI system {system_id} has not been classified yet")
    return record


def history(session: Session, principal: Actor, system_id: int) -> list[Classification]:
    """Every version, newest first."""
    system = visible_system(session, principal, system_id)
    stmt = (select(Classification).options(*_LOAD)
            .where(Classification.ai_system_id == system.id).order_by(Classification.version.desc()))
    return list(session.scalars(stmt))


def _current_join() -> Any:
    return and_(Classification.ai_system_id == AISystem.id, Classification.is_current.is_(True))


def _listing(principal: Actor, *, tier: str | None = None, business_unit_id: int | None = None,
             unclassified: bool | None = None) -> Select[Any]:
    stmt = (select(AISystem, Classification).outerjoin(Classification, _current_join())
            .where(in_scope(AISystem.business_unit_id, scope_of(principal, READ))))
    if business_unit_id is not None:
        stmt = stmt.where(AISystem.business_unit_id == business_unit_id)
    if choice("tier", tier, RISK_TIERS):
        stmt = stmt.where(Classification.tier == tier)
    if unclassified is True:
        stmt = stmt.where(Classification.id.is_(None))
    elif unclassified is False:
        stmt = stmt.where(Classification.id.is_not(None))
    return stmt


def list_current(session: Session, principal: Actor, params: PageParams, **filters: Any) -> Page[Any]:
    """Every AI system in the caller's scope with its current classification (None when unclassified), as
    (system, classification) rows. Filters: tier, business_unit_id, unclassified. Sort by name (default), tier or
    classified_at."""
    stmt = _listing(principal, **filters).options(selectinload(AISystem.business_unit),
                                                  selectinload(Classification.classified_by))
    stmt = apply_sort(stmt, params.sort or "name", SORT_COLUMNS, [AISystem.id])
    return paginate(session, stmt, params, scalars=False)


def tier_counts(session: Session, principal: Actor, *, business_unit_id: int | None = None) -> dict[str | None, int]:
    """Systems in scope by current tier; ``None`` counts the unclassified ones."""
    stmt = (select(Classification.tier, func.count(AISystem.id)).select_from(AISystem)
            .outerjoin(Classification, _current_join())
            .where(in_scope(AISystem.business_unit_id, scope_of(principal, READ))).group_by(Classification.tier))
    if business_unit_id is not None:
        stmt = stmt.where(AISystem.business_unit_id == business_unit_id)
    counts: dict[str | None, int] = {tier: 0 for tier in RISK_TIERS}
    counts[None] = 0
    counts.update({tier: n for tier, n in session.execute(stmt)})
    return counts


def _candidates(ref: str) -> Iterable[str]:
    """A ref, then its coarser forms: "Article 53(1)(a)" → "Article 53(1)" → "Article 53"; "Annex III point 5(b)"
    → "Annex III point 5" → "Annex III"."""
    yield ref
    while ref.endswith(")") and "(" in ref:
        ref = ref[:ref.rindex("(")]
        yield ref
    if " point " in ref:
        yield ref.split(" point ")[0]


def requirement_links(session: Session, refs: Iterable[str]) -> dict[str, int]:
    """The requirement of the current eu-ai-act catalog each ref is (or falls under), when that catalog is loaded:
    ref → requirement id; refs it does not cover are left out."""
    wanted = list(dict.fromkeys(refs))
    if not wanted:
        return {}
    known = dict(session.execute(select(Requirement.ref, Requirement.id).join(Framework)
                                 .where(Framework.key == CATALOG_KEY, Framework.is_current.is_(True))).all())
    links: dict[str, int] = {}
    for ref in wanted:
        found = next((known[c] for c in _candidates(ref) if c in known), None)
        if found is not None:
            links[ref] = found
    return links
