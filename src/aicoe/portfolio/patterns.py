"""Reusable solution patterns (document summarisation, fraud detection, ...) and the use cases tagged with them.

A pattern used by two or more business units is the CoE's cue to build once and reuse. Patterns themselves are
CoE-wide; the use cases (and so the business units) listed under a pattern are those the reader may see, so a
business-unit user learns nothing about other units' use cases here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope
from aicoe.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import Pattern, UseCase, use_case_patterns
from aicoe.portfolio.value import use_case_by_key

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
PATTERN_SORT = {"name": Pattern.name, "created_at": Pattern.created_at}


class PatternIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Text = ""


class PatternUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Text | None = None


@dataclass
class PatternUse:
    """A pattern with the visible use cases tagged with it and the business units they belong to."""

    pattern: Pattern
    use_cases: list[UseCase] = field(default_factory=list)
    units: list[BusinessUnit] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        return len(self.units) >= 2


def _scope(principal: Actor) -> frozenset[int] | None:
    return None if principal is None else principal.scope("use_case:read")


def get_pattern(session: Session, pattern_id: int) -> Pattern:
    pattern = session.get(Pattern, pattern_id)
    if pattern is None:
        raise NotFound(f"no pattern {pattern_id}")
    return pattern


def _check_unique(session: Session, name: str, exclude: int | None) -> None:
    stmt = select(Pattern.id).where(func.lower(Pattern.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(Pattern.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(f"a pattern named {name!r} already exists",
                       errors=[FieldError("name", f"{name!r} is already taken.")])


def create_pattern(session: Session, principal: Actor, data: PatternIn) -> Pattern:
    _check_unique(session, data.name, None)
    pattern = Pattern(name=data.name, description=data.description)
    session.add(pattern)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "pattern", pattern.id, ledger.created(pattern))
    return pattern


def _check_coe_wide(principal: Actor) -> None:
    """Renaming or deleting a pattern touches every unit's tags, so it needs a CoE-wide ``use_case:write``."""
    if principal is not None and principal.scope("use_case:write") is not None:
        raise PermissionDenied("changing a pattern shared across business units needs a CoE-wide role")


def update_pattern(session: Session, principal: Actor, pattern_id: int, data: PatternUpdate) -> Pattern:
    _check_coe_wide(principal)
    pattern = get_pattern(session, pattern_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes:
        if changes["name"] is None:
            raise ValidationFailed("name cannot be empty", errors=[FieldError("name", "Cannot be empty.")])
        _check_unique(session, changes["name"], pattern.id)
    for key, value in changes.items():
        setattr(pattern, key, "" if value is None else value)
    diff = ledger.changed(pattern)
    if diff:
        ledger.append(session, audit_actor(principal), "update", "pattern", pattern.id, diff)
    return pattern


def delete_pattern(session: Session, principal: Actor, pattern_id: int) -> None:
    """Delete a pattern; its tags go with it (the use cases stay)."""
    _check_coe_wide(principal)
    pattern = get_pattern(session, pattern_id)
    tagged = sorted(uc.key for uc in pattern.use_cases)
    diff = {**ledger.deleted(pattern), "use_cases": [tagged, None]}
    session.delete(pattern)
    ledger.append(session, audit_actor(principal), "delete", "pattern", pattern_id, diff)


def _retag(session: Session, principal: Actor, key: str, pattern_id: int, *, add: bool) -> UseCase:
    use_case = use_case_by_key(session, principal, key, write="use_case:write")
    pattern = get_pattern(session, pattern_id)
    before = [p.name for p in use_case.patterns]
    if add and pattern not in use_case.patterns:
        use_case.patterns.append(pattern)
    elif not add and pattern in use_case.patterns:
        use_case.patterns.remove(pattern)
    else:
        return use_case  # already as asked: nothing to record
    session.flush()
    after = sorted(before + [pattern.name]) if add else sorted(n for n in before if n != pattern.name)
    ledger.append(session, audit_actor(principal), "tag" if add else "untag", "use_case", use_case.key,
                  {"patterns": [sorted(before), after]})
    return use_case


def tag(session: Session, principal: Actor, key: str, pattern_id: int) -> UseCase:
    """Tag a use case with a pattern (a no-op when it already carries it)."""
    return _retag(session, principal, key, pattern_id, add=True)


def untag(session: Session, principal: Actor, key: str, pattern_id: int) -> UseCase:
    return _retag(session, principal, key, pattern_id, add=False)


def _usage(session: Session, principal: Actor, patterns: list[Pattern]) -> list[PatternUse]:
    """Attach to each pattern its visible use cases and their units: one query for the whole page."""
    out = {p.id: PatternUse(p) for p in patterns}
    if not out:
        return []
    link = use_case_patterns.c
    rows = session.execute(
        select(link.pattern_id, UseCase, BusinessUnit).join(UseCase, UseCase.id == link.use_case_id)
        .join(BusinessUnit, BusinessUnit.id == UseCase.business_unit_id)
        .where(link.pattern_id.in_(list(out)), in_scope(UseCase.business_unit_id, _scope(principal)))
        .order_by(UseCase.key)).all()
    units: dict[int, dict[int, BusinessUnit]] = defaultdict(dict)
    for pattern_id, use_case, unit in rows:
        out[pattern_id].use_cases.append(use_case)
        units[pattern_id][unit.id] = unit
    for pattern_id, use in out.items():
        use.units = sorted(units[pattern_id].values(), key=lambda u: u.name.lower())
    return list(out.values())


def list_patterns(session: Session, principal: Actor, params: PageParams, *, q: str | None = None,
                  shared: bool | None = None) -> Page[PatternUse]:
    """Patterns with their usage; ``shared`` keeps those used by two or more of the visible business units."""
    stmt = select(Pattern)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(func.lower(Pattern.name).like(like) | func.lower(Pattern.description).like(like))
    if shared is not None:
        link = use_case_patterns.c
        units = (select(func.count(func.distinct(UseCase.business_unit_id)))
                 .select_from(use_case_patterns).join(UseCase, UseCase.id == link.use_case_id)
                 .where(link.pattern_id == Pattern.id, in_scope(UseCase.business_unit_id, _scope(principal)))
                 .scalar_subquery())
        stmt = stmt.where(units >= 2 if shared else units < 2)
    page = paginate(session, apply_sort(stmt, params.sort, PATTERN_SORT, [Pattern.name, Pattern.id]), params)
    return Page(items=_usage(session, principal, list(page.items)), total=page.total, limit=page.limit,
                offset=page.offset)


def pattern_usage(session: Session, principal: Actor, pattern_id: int) -> PatternUse:
    return _usage(session, principal, [get_pattern(session, pattern_id)])[0]


def all_patterns(session: Session) -> list[Pattern]:
    return list(session.scalars(select(Pattern).order_by(Pattern.name)))
