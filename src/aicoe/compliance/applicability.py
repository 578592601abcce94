"""Which requirements of a framework apply to an AI system, and why.

A requirement's catalog entry may carry an applicability rule (``constants.APPLICABILITY_KEYS``); its effective
rule is its own AND every ancestor's. ``profile_for_system`` reads the facts a rule can test from the inventory
and the current EU AI Act classification; ``evaluate`` walks the rules from the root down and answers whether
the requirement applies, with a sentence naming the rule and the value that decided it. The evaluation is pure
so that the same answer is given in an assessment, on a page and in a test.

An AI system that has not been classified yet (no risk tier) is kept in scope of rules on risk tier and on
general-purpose AI: leaving it out would hide obligations that may well apply. Refreshing an assessment's
applicability after the classification settles the question.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from aicoe.compliance.constants import APPLICABILITY_KEYS
from aicoe.inventory.constants import LIFECYCLE_STATUSES
from aicoe.models.compliance import Classification, Requirement
from aicoe.models.inventory import AISystem, Dataset, Model, ModelDataset, SystemDataset, SystemModel
from aicoe.portfolio.constants import AI_TYPES

UNCLASSIFIED_TIER = "risk tier not yet classified — included until the system is classified"
UNCLASSIFIED_GPAI = "general-purpose AI status not yet classified — included until the system is classified"
NO_RULE = "Applies to every AI system: no applicability rule."

TIER_PHRASES = {"prohibited": "prohibited", "high": "high-risk", "limited": "limited-risk", "minimal": "minimal-risk"}
ROLE_PLURALS = {"provider": "providers", "deployer": "deployers", "importer": "importers",
                "distributor": "distributors"}
GPAI_TARGETS = {"gpai": "providers of general-purpose AI models",
                "gpai_systemic": "providers of general-purpose AI models with systemic risk"}
GPAI_STATES = {None: "the organisation provides no general-purpose AI model with this system",
               "gpai": "the system's general-purpose AI model is not classified as having systemic risk",
               "gpai_systemic": "the system's general-purpose AI model has systemic risk"}
GPAI_MATCHES = {"gpai": "general-purpose AI model", "gpai_systemic": "general-purpose AI model with systemic risk"}


class Rule(NamedTuple):
    """An applicability rule and the requirement (``ref``) that carries it."""

    ref: str
    conditions: Mapping[str, Any]


# --- the system's profile ----------------------------------------------------------------------------------------

def profile_for_system(session: Session, system: AISystem) -> dict[str, Any]:
    """The facts applicability rules test. ``personal_data`` is true when any dataset the system uses directly,
    or that trained, tuned, evaluated or feeds one of its models (or those models' base models), holds personal
    data; ``gpai`` is the current classification's flag (None when there is none)."""
    return {
        "ai_type": system.ai_type,
        "risk_tier": system.risk_tier,
        "eu_role": system.eu_ai_act_role,
        "lifecycle_stage": system.lifecycle_status,
        "personal_data": _uses_personal_data(session, system.id),
        "gpai": session.scalar(select(Classification.gpai).where(Classification.ai_system_id == system.id,
                                                                  Classification.is_current.is_(True))),
    }


def _model_lineage(session: Session, system_id: int) -> set[int]:
    """The system's models and, transitively, their base models."""
    found: set[int] = set(session.scalars(select(SystemModel.model_id).where(SystemModel.ai_system_id == system_id)))
    frontier = set(found)
    while frontier:
        bases = set(session.scalars(select(Model.base_model_id).where(Model.id.in_(sorted(frontier)),
                                                                      Model.base_model_id.is_not(None))))
        frontier = bases - found
        found |= frontier
    return found


def _uses_personal_data(session: Session, system_id: int) -> bool:
    used = [Dataset.id.in_(select(SystemDataset.dataset_id).where(SystemDataset.ai_system_id == system_id))]
    models = _model_lineage(session, system_id)
    if models:
        used.append(Dataset.id.in_(select(ModelDataset.dataset_id).where(ModelDataset.model_id.in_(sorted(models)))))
    return bool(session.scalar(select(exists().where(Dataset.personal_data.is_(True), or_(*used)))))


# --- rules along the tree ----------------------------------------------------------------------------------------

def rules_for(requirement: Requirement, by_id: Mapping[int, Requirement]) -> list[Rule]:
    """The non-empty rules of the requirement's ancestors (root first) and of the requirement itself."""
    chain: list[Requirement] = []
    node: Requirement | None = requirement
    seen: set[int] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        chain.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    return [Rule(n.ref, n.applicability) for n in reversed(chain) if n.applicability]


# --- evaluation --------------------------------------------------------------------------------------------------

def evaluate(rules: Sequence[Rule] | Iterable[tuple[str, Mapping[str, Any]]],
             profile: Mapping[str, Any]) -> tuple[bool, str]:
    """``(applies, reason)`` for a requirement whose effective rule is ``rules`` (root first).

    The first condition the profile fails decides, and the reason names it: "Out of scope: the organisation
    is the system's deployer; Article 16 applies to providers." When every condition holds, the reason lists
    what matched: "Applies: risk tier high". Within a rule, keys are read in ``APPLICABILITY_KEYS`` order; a
    key with an empty list does not restrict. An unknown key is a programming error (catalogs are validated).
    """
    matched: list[str] = []
    for ref, conditions in rules:
        unknown = sorted(set(conditions) - set(APPLICABILITY_KEYS))
        if unknown:
            raise ValueError(f"unknown applicability key(s) {', '.join(unknown)} on {ref}")
        for key in APPLICABILITY_KEYS:
            if key not in conditions:
                continue
            outcome = _CHECKS[key](ref, conditions[key], profile)
            if outcome is None:
                continue
            applies, phrase = outcome
            if not applies:
                return False, f"Out of scope: {phrase}."
            if phrase not in matched:
                matched.append(phrase)
    if not matched:
        return True, NO_RULE
    return True, "Applies: " + "; ".join(matched)


def _allowed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _join(words: Sequence[str], conjunction: str = "and") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _ai_types(ref: str, value: Any, profile: Mapping[str, Any]) -> tuple[bool, str] | None:
    allowed = _allowed(value)
    if not allowed:
        return None
    actual = profile.get("ai_type")
    label = AI_TYPES.get(actual, str(actual))
    if actual in allowed:
        return True, f"AI type {label}"
    targets = _join([AI_TYPES.get(a, str(a)) for a in allowed])
    return False, f"the system's AI type is {label}; {ref} applies to {targets} systems"


def _risk_tiers(ref: str, value: Any, profile: Mapping[str, Any]) -> tuple[bool, str] | None:
    allowed = _allowed(value)
    if not allowed:
        return None
    actual = profile.get("risk_tier")
    if actual is None:
        return True, UNCLASSIFIED_TIER
    if actual in allowed:
        return True, f"risk tier {actual}"
    targets = _join([TIER_PHRASES.get(t, str(t)) for t in allowed])
    return False, f"the system's risk tier is {actual}; {ref} applies to {targets} systems"


def _eu_roles(ref: str, value: Any, profile: Mapping[str, Any]) -> tuple[bool, str] | None:
    allowed = _allowed(value)
    if not allowed:
        return None
    actual = profile.get("eu_role")
    if actual in allowed:
        return True, f"EU AI Act role {actual}"
    targets = _join([ROLE_PLURALS.get(r, str(r)) for r in allowed])
    return False, f"the organisation is the system's {actual}; {ref} applies to {targets}"


def _lifecycle_stages(ref: str, value: Any, profile: Mapping[str, Any]) -> tuple[bool, str] | None:
    allowed = _allowed(value)
    if not allowed:
        return None
    actual = profile.get("lifecycle_stage")
    label = LIFECYCLE_STATUSES.get(actual, str(actual)).lower()
    if actual in allowed:
        return True, f"lifecycle stage {label}"
    targets = _join([LIFECYCLE_STATUSES.get(s, str(s)).lower() for s in allowed], "or")
    return False, f"the system is {label}; {ref} applies to systems {targets}"


def _personal_data(ref: str, value: Any, profile: Mapping[str, Any]) -> tuple[bool, str] | None:
    allowed = [bool(v) for v in _allowed(value)]
    if not allowed:
        return None
    actual = bool(profile.get("personal_data"))
    if actual in allowed:
        return True, "processes personal data" if actual else "processes no personal data"
    if actual:
        return False, f"the system processes personal data; {ref} applies to systems without personal data"
    return False, f"the system uses no personal data; {ref} applies to systems that process personal data"


def _gpai(ref: str, value: Any, profile: Mapping[str, Any]) -> tuple[bool, str] | None:
    allowed = _allowed(value)
    if not allowed:
        return None
    actual = profile.get("gpai")
    if actual is None and profile.get("risk_tier") is None:
        return True, UNCLASSIFIED_GPAI
    if actual in allowed:
        return True, GPAI_MATCHES.get(actual, str(actual))
    targets = _join([GPAI_TARGETS.get(g, str(g)) for g in allowed])
    return False, f"{GPAI_STATES.get(actual, str(actual))}; {ref} applies to {targets}"


_CHECKS = {"ai_types": _ai_types, "risk_tiers": _risk_tiers, "eu_roles": _eu_roles,
           "lifecycle_stages": _lifecycle_stages, "personal_data": _personal_data, "gpai": _gpai}
