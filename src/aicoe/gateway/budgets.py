"""Budgets: spending limits per period (day, month, total) for a key, a use case or a business unit.

A budget row holds the limit; what was spent and is reserved lives in ``gateway_spend`` per period, written by
the limit store (``aicoe.gateway.limits``). Periods are calendar periods in UTC: ``YYYY-MM-DD`` for a day,
``YYYY-MM`` for a month, ``total`` for all time. A request is charged to every budget that covers it: its key's,
its use case's and its key's business unit's (the unit itself, not its parents). Setting budgets is CoE-wide
(gateway:admin); reading follows the scope's business unit (gateway:read).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, scope_of
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.time import utcnow
from aicoe.gateway import schemas
from aicoe.gateway.limits import BudgetRef, period_key
from aicoe.models.gateway import GatewayBudget, GatewaySpend, VirtualKey
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase

READ, ADMIN = "gateway:read", "gateway:admin"
ENTITY = "gateway_budget"
NOT_FOUND = "no gateway budget {id}"
NO_SCOPE = "No {scope} {id}."
SCOPE_LABELS = {"key": "key", "use_case": "use case", "business_unit": "business unit"}


def period_start(period: str, now: datetime | None = None) -> str:
    """The spend row's period key for ``period`` at ``now``, as the limit store computes it."""
    return period_key(period, int((now or utcnow()).timestamp() * 1000))


def unit_of(session: Session, scope: str, scope_id: int) -> int | None:
    """The business unit a budget's scope belongs to, None when the scope does not exist."""
    if scope == "business_unit":
        return scope_id if session.get(BusinessUnit, scope_id) is not None else None
    model = VirtualKey if scope == "key" else UseCase
    return session.scalar(select(model.business_unit_id).where(model.id == scope_id))


# --- reading -------------------------------------------------------------------------------------------------------

def budgets_for(session: Session, key: VirtualKey) -> list[BudgetRef]:
    """Every budget a request with ``key`` is charged to: the key's, its use case's and its unit's."""
    return refs_by_scope(session, [key]).get(key.id, [])


def refs_by_scope(session: Session, keys: Iterable[VirtualKey]) -> dict[int, list[BudgetRef]]:
    """Budgets per key id for many keys at once (one query), for loading the gateway's configuration."""
    keys = list(keys)
    wanted = {("key", k.id) for k in keys} | {("business_unit", k.business_unit_id) for k in keys}
    wanted |= {("use_case", k.use_case_id) for k in keys if k.use_case_id is not None}
    if not wanted:
        return {}
    by_scope: dict[tuple[str, int], list[BudgetRef]] = {}
    rows = session.scalars(select(GatewayBudget).where(tuple_(GatewayBudget.scope, GatewayBudget.scope_id)
                                                       .in_(sorted(wanted))).order_by(GatewayBudget.id))
    for row in rows:
        by_scope.setdefault((row.scope, row.scope_id), []).append(
            BudgetRef(scope=row.scope, scope_id=row.scope_id, period=row.period, limit_micros=row.limit_micros))
    out: dict[int, list[BudgetRef]] = {}
    for key in keys:
        scopes = [("key", key.id), ("use_case", key.use_case_id), ("business_unit", key.business_unit_id)]
        out[key.id] = [ref for s in scopes for ref in by_scope.get(s, [])]  # type: ignore[arg-type]
    return out


def list_budgets(session: Session, principal: Actor, *, scope: str | None = None,
                 scope_id: int | None = None) -> list[GatewayBudget]:
    """Budgets whose scope lies in the caller's units (all of them CoE-wide), ordered by scope and period."""
    stmt = select(GatewayBudget).order_by(GatewayBudget.scope, GatewayBudget.scope_id, GatewayBudget.period)
    if scope is not None:
        stmt = stmt.where(GatewayBudget.scope == scope)
    if scope_id is not None:
        stmt = stmt.where(GatewayBudget.scope_id == scope_id)
    rows = list(session.scalars(stmt))
    allowed = scope_of(principal, READ)
    if allowed is None:
        return rows
    return [b for b in rows if unit_of(session, b.scope, b.scope_id) in allowed]


def get_budget(session: Session, principal: Actor, budget_id: int) -> GatewayBudget:
    budget = session.get(GatewayBudget, budget_id)
    allowed = scope_of(principal, READ)
    if budget is None or (allowed is not None and unit_of(session, budget.scope, budget.scope_id) not in allowed):
        raise NotFound(NOT_FOUND.format(id=budget_id))
    return budget


def spend_of(session: Session, budgets: Iterable[GatewayBudget],
             now: datetime | None = None) -> dict[int, tuple[str, int, int]]:
    """Per budget id: (current period key, spent micros, reserved micros)."""
    budgets = list(budgets)
    keys = {b.id: (b.scope, b.scope_id, period_start(b.period, now)) for b in budgets}
    if not keys:
        return {}
    found = {(s.scope, s.scope_id, s.period_start): (s.spent_micros, s.reserved_micros) for s in session.scalars(
        select(GatewaySpend).where(tuple_(GatewaySpend.scope, GatewaySpend.scope_id, GatewaySpend.period_start)
                                   .in_(sorted(set(keys.values())))))}
    return {bid: (k[2], *found.get(k, (0, 0))) for bid, k in keys.items()}


# --- writing -------------------------------------------------------------------------------------------------------

def set_budget(session: Session, principal: Actor, data: schemas.BudgetIn) -> GatewayBudget:
    """Create or replace the limit of one scope and period (gateway:admin, CoE-wide)."""
    scope_of(principal, ADMIN)
    return put_budget(session, principal, data)


def put_budget(session: Session, principal: Actor, data: schemas.BudgetIn) -> GatewayBudget:
    """``set_budget`` without the permission check, for callers that checked their own (a key's creator)."""
    if unit_of(session, data.scope, data.scope_id) is None:
        message = NO_SCOPE.format(scope=SCOPE_LABELS[data.scope], id=data.scope_id)
        raise ValidationFailed(f"scope_id: {message}", errors=[FieldError("scope_id", message)])
    limit = schemas.to_micros(data.amount)
    budget = session.scalar(select(GatewayBudget).where(
        GatewayBudget.scope == data.scope, GatewayBudget.scope_id == data.scope_id,
        GatewayBudget.period == data.period))
    if budget is None:
        budget = GatewayBudget(scope=data.scope, scope_id=data.scope_id, period=data.period, limit_micros=limit)
        session.add(budget)
        session.flush()
        ledger.append(session, audit_actor(principal), "create", ENTITY, budget.id, ledger.created(budget))
        return budget
    budget.limit_micros = limit
    diff = ledger.changed(budget)
    if diff:
        budget.updated_at = utcnow()
        session.flush()
        ledger.append(session, audit_actor(principal), "update", ENTITY, budget.id, diff)
    return budget


def delete_budget(session: Session, principal: Actor, budget_id: int) -> None:
    scope_of(principal, ADMIN)
    budget = get_budget(session, principal, budget_id)
    diff = ledger.deleted(budget)
    session.delete(budget)
    session.flush()
    ledger.append(session, audit_actor(principal), "delete", ENTITY, budget_id, diff)
