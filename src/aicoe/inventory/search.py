"""The inventory's global search: AI systems, models (by name or version), datasets and vendors whose name
contains the query, case-insensitively, within the caller's business units (vendors are CoE-wide).

Each kind contributes at most ``PER_TYPE`` hits, names starting with the query first, then alphabetical;
``truncated`` says some kind had more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Actor, in_scope, scope_of
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.core.filters import like_pattern
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor

PER_TYPE = 20
MAX_QUERY = 200


@dataclass(frozen=True)
class Hit:
    type: str
    id: int
    name: str
    url: str


@dataclass(frozen=True)
class Results:
    q: str
    items: list[Hit]
    truncated: bool


def _rank(column: Any, q: str) -> Any:
    """0 when the name starts with the query, 1 otherwise, for ordering."""
    prefix = like_pattern(q)[1:]
    return case((func.lower(column).like(prefix, escape="\\"), 0), else_=1)


def search(session: Session, principal: Actor, q: str, *, per_type: int = PER_TYPE) -> Results:
    text = (q or "").strip()
    if not text:
        raise ValidationFailed("enter something to search for", errors=[FieldError("q", "Enter a name to search for.")])
    if len(text) > MAX_QUERY:
        raise ValidationFailed("query too long", errors=[FieldError("q", f"At most {MAX_QUERY} characters.")])
    scope = scope_of(principal, "inventory:read")
    pattern = like_pattern(text)
    hits: list[Hit] = []
    truncated = False

    def take(kind: str, url: str, stmt: Any, label: Any) -> None:
        nonlocal truncated
        rows = session.execute(stmt.limit(per_type + 1)).all()
        truncated = truncated or len(rows) > per_type
        hits.extend(Hit(kind, row.id, label(row), f"{url}/{row.id}") for row in rows[:per_type])

    def contains(column: Any) -> Any:
        return func.lower(column).like(pattern, escape="\\")

    take("ai_system", "/ai-systems",
         select(AISystem.id, AISystem.name).where(contains(AISystem.name), in_scope(AISystem.business_unit_id, scope))
         .order_by(_rank(AISystem.name, text), func.lower(AISystem.name), AISystem.id), lambda r: r.name)
    take("model", "/models",
         select(Model.id, Model.name, Model.version)
         .where(or_(contains(Model.name), contains(Model.version),
                    contains(Model.name + " " + Model.version)), in_scope(Model.business_unit_id, scope))
         .order_by(_rank(Model.name, text), func.lower(Model.name), Model.version, Model.id),
         lambda r: f"{r.name} {r.version}")
    take("dataset", "/datasets",
         select(Dataset.id, Dataset.name).where(contains(Dataset.name), in_scope(Dataset.business_unit_id, scope))
         .order_by(_rank(Dataset.name, text), func.lower(Dataset.name), Dataset.id), lambda r: r.name)
    take("vendor", "/vendors",
         select(Vendor.id, Vendor.name).where(contains(Vendor.name))
         .order_by(_rank(Vendor.name, text), func.lower(Vendor.name), Vendor.id), lambda r: r.name)
    return Results(q=text, items=hits, truncated=truncated)
