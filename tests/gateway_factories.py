"""Plain factory functions for gateway tests. They insert rows directly (no service rules, no audit) and commit,
so a test can arrange any state, a revoked or expired key included; ``make_key`` also returns the raw key."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.engines.guardrails.policy import DEFAULT_POLICY
from aicoe.gateway import keys, secrets
from aicoe.models.gateway import GatewayProvider, GatewayRoute, GuardrailPolicy, VirtualKey
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit
from aicoe.models.portfolio import UseCase
from tests.factories import _writing

_seq = itertools.count(1)


def _add(session: Session, obj: Any) -> Any:
    session.add(obj)
    session.commit()
    return obj


def make_provider(session: Session, *, name: str | None = None, kind: str = "demo", base_url: str = "",
                  api_key: str | None = None, settings: Settings | None = None, **fields: Any) -> GatewayProvider:
    """``api_key`` is stored encrypted under ``settings``' secret key (pass both or neither)."""
    _writing(session)
    encrypted = None
    if api_key is not None:
        assert settings is not None, "pass settings to encrypt an API key"
        encrypted = secrets.encrypt(settings, api_key)
    return _add(session, GatewayProvider(name=name or f"Provider {next(_seq)}", kind=kind, base_url=base_url,
                                         api_key_encrypted=encrypted, **fields))


def make_route(session: Session, provider: GatewayProvider, *, alias: str = "test-model", priority: int = 0,
               upstream_model: str = "upstream-model", kind: str = "chat", price_input_micros_per_mtok: int = 0,
               price_output_micros_per_mtok: int = 0, **fields: Any) -> GatewayRoute:
    _writing(session)
    return _add(session, GatewayRoute(
        alias=alias, priority=priority, provider_id=provider.id, upstream_model=upstream_model, kind=kind,
        price_input_micros_per_mtok=price_input_micros_per_mtok,
        price_output_micros_per_mtok=price_output_micros_per_mtok, **fields))


def make_policy(session: Session, *, name: str | None = None, rules: list[dict[str, Any]] | None = None,
                is_default: bool = False, **fields: Any) -> GuardrailPolicy:
    """``rules`` default to the engine's DEFAULT_POLICY rules."""
    _writing(session)
    if rules is None:
        rules = [rule.to_dict() for rule in DEFAULT_POLICY.rules]
    return _add(session, GuardrailPolicy(name=name or f"Policy {next(_seq)}", rules=rules, is_default=is_default,
                                         **fields))


def make_key(session: Session, unit: BusinessUnit, *, name: str | None = None, use_case: UseCase | None = None,
             ai_system: AISystem | None = None, policy: GuardrailPolicy | None = None,
             allowed_aliases: list[str] | None = None, **fields: Any) -> tuple[VirtualKey, str]:
    """A key of ``unit`` and its raw value; further keywords set columns as is (``revoked_at``, ``rpm_limit``...)."""
    _writing(session)
    raw = keys.new_raw_key()
    key = _add(session, VirtualKey(
        name=name or f"Key {next(_seq)}", prefix=raw[:keys.SHOWN_PREFIX], key_hash=keys.hash_key(raw),
        business_unit_id=unit.id, use_case_id=use_case.id if use_case else None,
        ai_system_id=ai_system.id if ai_system else None, policy_id=policy.id if policy else None,
        allowed_aliases=list(allowed_aliases or []), **fields))
    return key, raw
