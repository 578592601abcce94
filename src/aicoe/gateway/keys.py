"""Virtual keys: what callers present to the gateway as ``Authorization: Bearer sk-aicoe-...``.

A key is shown once, in the create response; only its SHA-256 and its first characters (to recognise it in
lists) are stored. A key belongs to a business unit, optionally to one of that unit's use cases and AI systems,
and the owner unit decides who may see (gateway:read) and create or revoke (gateway:key) it. Services flush and
audit, never commit; the audit trail names keys by id and prefix, never by hash.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import as_utc, utcnow
from aicoe.gateway import budgets, schemas
from aicoe.models.gateway import GatewayRoute, GuardrailPolicy, VirtualKey
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase

READ, WRITE = "gateway:read", "gateway:key"
KEY_PREFIX = "sk-aicoe-"
SHOWN_PREFIX = 12
ENTITY = "gateway_key"
STATUSES = {"active": "Active", "expired": "Expired", "revoked": "Revoked"}
NOT_FOUND = "no gateway key {id}"
ALREADY_REVOKED = "key {id} is already revoked"
NO_UNIT = "No business unit {id} among yours."
NO_USE_CASE = "No use case {id} in business unit {unit}."
NO_AI_SYSTEM = "No AI system {id} in business unit {unit}."
NO_POLICY = "No guardrail policy {id}."
UNKNOWN_ALIASES = "Unknown model aliases: {aliases}."
EXPIRY_PAST = "The expiry must lie in the future."
# Never in the audit trail: the hash is as good as a password check for anyone holding a guessed key.
_NOT_AUDITED = frozenset({"key_hash", "last_used_at"})


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_key() -> str:
    """``sk-aicoe-`` + 32 url-safe characters (192 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(24)


def status_of(key: VirtualKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and as_utc(key.expires_at) <= utcnow():
        return "expired"
    return "active"


def _audited(diff: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in diff.items() if k not in _NOT_AUDITED}


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[FieldError(field, message)])


# --- checks --------------------------------------------------------------------------------------------------------

def _check_owner(session: Session, principal: Actor, data: schemas.KeyCreate) -> None:
    scope = scope_of(principal, WRITE)
    unit = data.business_unit_id
    if session.get(BusinessUnit, unit) is None or (scope is not None and unit not in scope):
        raise _invalid("business_unit_id", NO_UNIT.format(id=unit))
    if data.use_case_id is not None:
        use_case = session.get(UseCase, data.use_case_id)
        if use_case is None or use_case.business_unit_id != unit:
            raise _invalid("use_case_id", NO_USE_CASE.format(id=data.use_case_id, unit=unit))
    if data.ai_system_id is not None:
        system = session.get(AISystem, data.ai_system_id)
        if system is None or system.business_unit_id != unit:
            raise _invalid("ai_system_id", NO_AI_SYSTEM.format(id=data.ai_system_id, unit=unit))


def _check_aliases(session: Session, aliases: list[str]) -> list[str]:
    wanted = sorted(set(aliases))
    if not wanted:
        return []
    known = set(session.scalars(select(GatewayRoute.alias).where(GatewayRoute.alias.in_(wanted))))
    missing = [a for a in wanted if a not in known]
    if missing:
        raise _invalid("allowed_aliases", UNKNOWN_ALIASES.format(aliases=", ".join(missing)))
    return wanted


def _check_policy(session: Session, policy_id: int | None) -> None:
    if policy_id is not None and session.get(GuardrailPolicy, policy_id) is None:
        raise _invalid("policy_id", NO_POLICY.format(id=policy_id))


def _check_expiry(expires_at: Any) -> None:
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise _invalid("expires_at", EXPIRY_PAST)


# --- reading -------------------------------------------------------------------------------------------------------

def keys_query(principal: Actor, permission: str = READ) -> Select[tuple[VirtualKey]]:
    return select(VirtualKey).where(in_scope(VirtualKey.business_unit_id, scope_of(principal, permission)))


SORT_COLUMNS: dict[str, Any] = {"name": func.lower(VirtualKey.name), "created_at": VirtualKey.created_at,
                                "last_used_at": VirtualKey.last_used_at, "expires_at": VirtualKey.expires_at}


def list_keys(session: Session, principal: Actor, params: PageParams, *, q: str | None = None,
              business_unit_id: int | None = None, use_case_id: int | None = None, status: str | None = None
              ) -> Page[VirtualKey]:
    """Newest first by default; ``status`` is active, expired or revoked."""
    stmt = keys_query(principal)
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(VirtualKey.name).like(pattern, escape="\\"),
                              func.lower(VirtualKey.prefix).like(pattern, escape="\\")))
    if business_unit_id is not None:
        stmt = stmt.where(VirtualKey.business_unit_id == business_unit_id)
    if use_case_id is not None:
        stmt = stmt.where(VirtualKey.use_case_id == use_case_id)
    if choice("status", status, STATUSES):
        now = utcnow()
        live = or_(VirtualKey.expires_at.is_(None), VirtualKey.expires_at > now)
        stmt = stmt.where(VirtualKey.revoked_at.is_not(None) if status == "revoked" else
                          VirtualKey.revoked_at.is_(None) & (live if status == "active" else ~live))
    stmt = apply_sort(stmt, params.sort, SORT_COLUMNS, [VirtualKey.id.desc()])
    return paginate(session, stmt, params)


def get_key(session: Session, principal: Actor, key_id: int, permission: str = READ) -> VirtualKey:
    key = session.scalar(keys_query(principal, permission).where(VirtualKey.id == key_id))
    if key is None:
        raise NotFound(NOT_FOUND.format(id=key_id))
    return key


# --- writing -------------------------------------------------------------------------------------------------------

def create_key(session: Session, principal: Actor, data: schemas.KeyCreate) -> tuple[VirtualKey, str]:
    """The new key and its raw value, which is returned this once and never stored."""
    _check_owner(session, principal, data)
    aliases = _check_aliases(session, data.allowed_aliases)
    _check_policy(session, data.policy_id)
    _check_expiry(data.expires_at)
    raw = new_raw_key()
    key = VirtualKey(
        name=data.name, prefix=raw[:SHOWN_PREFIX], key_hash=hash_key(raw), business_unit_id=data.business_unit_id,
        use_case_id=data.use_case_id, ai_system_id=data.ai_system_id, policy_id=data.policy_id,
        allowed_aliases=aliases, rpm_limit=data.rpm_limit, tpm_limit=data.tpm_limit, logging=data.logging,
        log_retention_days=data.log_retention_days, expires_at=data.expires_at,
        created_by_id=None if principal is None else principal.user.id)
    session.add(key)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", ENTITY, key.id, _audited(ledger.created(key)))
    for budget in data.budgets:  # a limit on the caller's own new key: gateway:key suffices
        budgets.put_budget(session, principal, schemas.BudgetIn(
            scope="key", scope_id=key.id, period=budget.period, amount=budget.amount))
    return key, raw


def update_key(session: Session, principal: Actor, key_id: int, data: schemas.KeyUpdate) -> VirtualKey:
    key = get_key(session, principal, key_id, WRITE)
    values = data.model_dump(exclude_unset=True)
    if "allowed_aliases" in values:
        values["allowed_aliases"] = _check_aliases(session, values["allowed_aliases"] or [])
    if "policy_id" in values:
        _check_policy(session, values["policy_id"])
    if "expires_at" in values:
        _check_expiry(values["expires_at"])
    for name in ("name", "logging", "log_retention_days"):
        if name in values and values[name] is None:
            raise _invalid(name, "cannot be empty")
    for name, value in values.items():
        setattr(key, name, value)
    diff = _audited(ledger.changed(key))
    if diff:
        key.updated_at = utcnow()
    session.flush()
    if diff:
        ledger.append(session, audit_actor(principal), "update", ENTITY, key.id, diff)
    return key


def revoke_key(session: Session, principal: Actor, key_id: int) -> VirtualKey:
    """Revoked keys stay listed (usage keeps pointing at them); the gateway answers them as revoked."""
    key = get_key(session, principal, key_id, WRITE)
    if key.revoked_at is not None:
        raise Conflict(ALREADY_REVOKED.format(id=key_id))
    key.revoked_at = key.updated_at = utcnow()
    session.flush()
    ledger.append(session, audit_actor(principal), "revoke", ENTITY, key.id,
                  {"revoked_at": [None, key.revoked_at], "prefix": [key.prefix, key.prefix]})
    return key
