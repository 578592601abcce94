"""Guardrail policies: the rules of ``aicoe.engines.guardrails`` kept as data, validated by the engine itself
(``GuardPolicy.from_dict``) on every write, versioned (+1 on every change) so the gateway and its events can tell
which rules applied. One policy at most is the default: keys without a policy of their own use it.

Policies are CoE-wide: everyone with gateway:read sees them, gateway:policy changes them. The "try it" check
runs a policy on a sample text and answers the verdict without the matched values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, scope_of
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.engines.guardrails.guard import Guard
from aicoe.engines.guardrails.policy import GuardPolicy, GuardrailError
from aicoe.engines.guardrails.verdict import Verdict
from aicoe.gateway import schemas
from aicoe.models.gateway import GuardrailPolicy, VirtualKey

READ, WRITE = "gateway:read", "gateway:policy"
ENTITY = "guardrail_policy"
NOT_FOUND = "no guardrail policy {id}"
NAME_TAKEN = "A policy named {name!r} exists already."
IN_USE = "policy {name!r} is used by {count} key(s); give them another policy first"
INVALID_RULES = "The rules are invalid: {error}"
DEFAULT_UNDELETABLE = "policy {name!r} is the default; make another policy the default first"


def to_guard_policy(row: GuardrailPolicy) -> GuardPolicy:
    return GuardPolicy.from_dict({"name": row.name, "rules": row.rules, "fail_open": row.fail_open,
                                  "restore": row.restore})


def validate(name: str, rules: list[dict[str, Any]], fail_open: bool, restore: bool) -> GuardPolicy:
    """The engine's reading of the rules, or a field error with the engine's message."""
    try:
        return GuardPolicy.from_dict({"name": name, "rules": rules, "fail_open": fail_open, "restore": restore})
    except GuardrailError as exc:
        message = INVALID_RULES.format(error=exc)
        raise ValidationFailed(f"rules: {message}", errors=[FieldError("rules", message)]) from None


def normalised(policy: GuardPolicy) -> list[dict[str, Any]]:
    """The rules as the engine writes them back (defaults filled in), so stored rules compare exactly."""
    return [rule.to_dict() for rule in policy.rules]


# --- reading -------------------------------------------------------------------------------------------------------

def list_policies(session: Session, principal: Actor) -> list[GuardrailPolicy]:
    scope_of(principal, READ)
    return list(session.scalars(select(GuardrailPolicy).order_by(func.lower(GuardrailPolicy.name))))


def get_policy(session: Session, principal: Actor, policy_id: int) -> GuardrailPolicy:
    scope_of(principal, READ)
    policy = session.get(GuardrailPolicy, policy_id)
    if policy is None:
        raise NotFound(NOT_FOUND.format(id=policy_id))
    return policy


def get_by_name(session: Session, name: str) -> GuardrailPolicy | None:
    return session.scalar(select(GuardrailPolicy).where(GuardrailPolicy.name == name))


def default_policy(session: Session) -> GuardrailPolicy | None:
    return session.scalar(select(GuardrailPolicy).where(GuardrailPolicy.is_default.is_(True))
                          .order_by(GuardrailPolicy.id).limit(1))


# --- writing -------------------------------------------------------------------------------------------------------

def _check_name(session: Session, name: str, own_id: int | None = None) -> None:
    other = get_by_name(session, name)
    if other is not None and other.id != own_id:
        message = NAME_TAKEN.format(name=name)
        raise ValidationFailed(f"name: {message}", errors=[FieldError("name", message)])


def _clear_other_defaults(session: Session, principal: Actor, keep_id: int) -> None:
    for other in session.scalars(select(GuardrailPolicy).where(GuardrailPolicy.is_default.is_(True),
                                                               GuardrailPolicy.id != keep_id)):
        session.execute(update(GuardrailPolicy).where(GuardrailPolicy.id == other.id).values(is_default=False))
        ledger.append(session, audit_actor(principal), "update", ENTITY, other.id, {"is_default": [True, False]})


def create_policy(session: Session, principal: Actor, data: schemas.PolicyCreate) -> GuardrailPolicy:
    scope_of(principal, WRITE)
    _check_name(session, data.name)
    rules = normalised(validate(data.name, data.rules, data.fail_open, data.restore))
    policy = GuardrailPolicy(name=data.name, description=data.description, rules=rules,
                             fail_open=data.fail_open, restore=data.restore, version=1, is_default=data.is_default)
    session.add(policy)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", ENTITY, policy.id, ledger.created(policy))
    if data.is_default:
        _clear_other_defaults(session, principal, policy.id)
    return policy


def update_policy(session: Session, principal: Actor, policy_id: int, data: schemas.PolicyUpdate
                  ) -> GuardrailPolicy:
    scope_of(principal, WRITE)
    policy = get_policy(session, principal, policy_id)
    values = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "name" in values:
        _check_name(session, values["name"], policy.id)
    checked = validate(values.get("name", policy.name), values.get("rules", policy.rules),
                       values.get("fail_open", policy.fail_open), values.get("restore", policy.restore))
    if "rules" in values:
        values["rules"] = normalised(checked)
    for name, value in values.items():
        setattr(policy, name, value)
    diff = ledger.changed(policy)
    if not diff:
        return policy
    policy.version += 1
    diff["version"] = [policy.version - 1, policy.version]
    session.flush()
    ledger.append(session, audit_actor(principal), "update", ENTITY, policy.id, diff)
    if values.get("is_default"):
        _clear_other_defaults(session, principal, policy.id)
    return policy


def delete_policy(session: Session, principal: Actor, policy_id: int) -> None:
    """Refused while keys use the policy, and for the default (keys without a policy of their own rely on it)."""
    scope_of(principal, WRITE)
    policy = get_policy(session, principal, policy_id)
    used = session.scalar(select(func.count()).select_from(VirtualKey).where(VirtualKey.policy_id == policy.id)) or 0
    if used:
        raise Conflict(IN_USE.format(name=policy.name, count=used))
    if policy.is_default:
        raise Conflict(DEFAULT_UNDELETABLE.format(name=policy.name))
    diff = ledger.deleted(policy)
    session.delete(policy)
    session.flush()
    ledger.append(session, audit_actor(principal), "delete", ENTITY, policy_id, diff)


# --- trying a policy -----------------------------------------------------------------------------------------------

def check(policy: GuardPolicy, text: str, direction: str = "input") -> schemas.VerdictOut:
    """What ``policy`` does to ``text``: the action, each finding's position and type, and the text as the
    policy passes it on (placeholders in place of anonymised values); never the matched values themselves."""
    return _verdict_out(Guard(policy).check_text(text, direction), text)


def _verdict_out(verdict: Verdict, text: str) -> schemas.VerdictOut:
    passed = {"allow": text, "anonymise": verdict.text}.get(verdict.action)
    findings = [schemas.FindingOut(rule=f.rule, kind=f.kind, action=f.action, direction=f.direction,
                                   entity_types=list(f.entity_types), score=f.score, detector=f.detector,
                                   start=f.start, end=f.end) for f in verdict.findings]
    return schemas.VerdictOut(action=verdict.action, reason=verdict.reason, findings=findings, text=passed)


def try_policy(session: Session, principal: Actor, policy_id: int, data: schemas.PolicyTryIn
               ) -> schemas.VerdictOut:
    return check(to_guard_policy(get_policy(session, principal, policy_id)), data.text, data.direction)


def check_rules(principal: Actor, data: schemas.PolicyCheckIn) -> schemas.VerdictOut:
    scope_of(principal, READ)
    return check(validate("unsaved", data.rules, data.fail_open, data.restore), data.text, data.direction)
