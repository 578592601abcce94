"""Applicability rules: every key, inheritance down the requirement tree, the unclassified system, the exact
reasons, and the system profile read from the inventory and the current classification."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from aicoe.compliance.applicability import (
    NO_RULE,
    UNCLASSIFIED_GPAI,
    UNCLASSIFIED_TIER,
    Rule,
    evaluate,
    profile_for_system,
    rules_for,
)
from aicoe.compliance.constants import APPLICABILITY_KEYS
from aicoe.models.compliance import Classification, Requirement
from tests.factories import _writing, make_unit
from tests.inventory_factories import (
    link_model_dataset,
    link_system_dataset,
    link_system_model,
    make_dataset,
    make_model,
    make_system,
)

PROFILE: dict[str, Any] = {"ai_type": "predictive_ml", "risk_tier": "high", "eu_role": "deployer",
                           "lifecycle_stage": "in_production", "personal_data": True, "gpai": None}


def profile(**changes: Any) -> dict[str, Any]:
    return {**PROFILE, **changes}


def one(ref: str, **conditions: Any) -> list[Rule]:
    return [Rule(ref, conditions)]


# --- each key ----------------------------------------------------------------------------------------------------

def test_no_rule_applies_to_every_system() -> None:
    assert evaluate([], PROFILE) == (True, NO_RULE)
    assert NO_RULE == "Applies to every AI system: no applicability rule."
    assert evaluate(one("GOVERN 1.1", ai_types=[]), PROFILE) == (True, NO_RULE)  # an empty list restricts nothing


def test_eu_roles() -> None:
    assert evaluate(one("Article 16", eu_roles=["provider"]), PROFILE) == (
        False, "Out of scope: the organisation is the system's deployer; Article 16 applies to providers.")
    assert evaluate(one("Article 26", eu_roles=["deployer"]), PROFILE) == (True, "Applies: EU AI Act role deployer")
    assert evaluate(one("Article 25", eu_roles=["importer", "distributor", "provider"]), PROFILE) == (
        False, "Out of scope: the organisation is the system's deployer; Article 25 applies to importers, "
               "distributors and providers.")


def test_risk_tiers() -> None:
    assert evaluate(one("Article 9", risk_tiers=["high"]), PROFILE) == (True, "Applies: risk tier high")
    assert evaluate(one("Article 9", risk_tiers=["high"]), profile(risk_tier="minimal")) == (
        False, "Out of scope: the system's risk tier is minimal; Article 9 applies to high-risk systems.")
    assert evaluate(one("Article 50", risk_tiers=["limited", "high"]), profile(risk_tier="minimal")) == (
        False, "Out of scope: the system's risk tier is minimal; Article 50 applies to limited-risk and high-risk "
               "systems.")


def test_an_unclassified_system_stays_in_scope_of_tier_rules() -> None:
    assert UNCLASSIFIED_TIER == "risk tier not yet classified — included until the system is classified"
    assert evaluate(one("Article 9", risk_tiers=["high"]), profile(risk_tier=None)) == (
        True, "Applies: risk tier not yet classified — included until the system is classified")
    # ... but another failing condition still excludes it
    assert evaluate(one("Article 16", risk_tiers=["high"], eu_roles=["provider"]), profile(risk_tier=None)) == (
        False, "Out of scope: the organisation is the system's deployer; Article 16 applies to providers.")


def test_ai_types() -> None:
    assert evaluate(one("LLM01:2025", ai_types=["generative_ai", "agentic"]), PROFILE) == (
        False, "Out of scope: the system's AI type is Predictive ML; LLM01:2025 applies to Generative AI and "
               "Agentic AI systems.")
    assert evaluate(one("LLM01:2025", ai_types=["generative_ai", "agentic"]), profile(ai_type="agentic")) == (
        True, "Applies: AI type Agentic AI")


def test_lifecycle_stages() -> None:
    assert evaluate(one("MANAGE 4.1", lifecycle_stages=["in_production"]), PROFILE) == (
        True, "Applies: lifecycle stage in production")
    assert evaluate(one("MANAGE 4.1", lifecycle_stages=["in_validation", "in_production"]),
                    profile(lifecycle_stage="in_development")) == (
        False, "Out of scope: the system is in development; MANAGE 4.1 applies to systems in validation or in "
               "production.")


def test_personal_data_both_ways() -> None:
    assert evaluate(one("Article 35", personal_data=True), PROFILE) == (True, "Applies: processes personal data")
    assert evaluate(one("Article 35", personal_data=True), profile(personal_data=False)) == (
        False, "Out of scope: the system uses no personal data; Article 35 applies to systems that process "
               "personal data.")
    assert evaluate(one("X.1", personal_data=False), PROFILE) == (
        False, "Out of scope: the system processes personal data; X.1 applies to systems without personal data.")
    assert evaluate(one("X.1", personal_data=False), profile(personal_data=False)) == (
        True, "Applies: processes no personal data")


def test_gpai() -> None:
    rule = one("Article 53", gpai=["gpai", "gpai_systemic"])
    assert evaluate(rule, PROFILE) == (
        False, "Out of scope: the organisation provides no general-purpose AI model with this system; Article 53 "
               "applies to providers of general-purpose AI models and providers of general-purpose AI models with "
               "systemic risk.")
    assert evaluate(rule, profile(gpai="gpai")) == (True, "Applies: general-purpose AI model")
    assert evaluate(one("Article 55", gpai=["gpai_systemic"]), profile(gpai="gpai")) == (
        False, "Out of scope: the system's general-purpose AI model is not classified as having systemic risk; "
               "Article 55 applies to providers of general-purpose AI models with systemic risk.")
    assert evaluate(one("Article 55", gpai=["gpai_systemic"]), profile(gpai="gpai_systemic")) == (
        True, "Applies: general-purpose AI model with systemic risk")
    assert evaluate(one("Article 55", gpai=["gpai_systemic"]), profile(risk_tier=None)) == (
        True, f"Applies: {UNCLASSIFIED_GPAI}")


def test_every_key_has_a_check() -> None:
    values = {"ai_types": ["predictive_ml"], "risk_tiers": ["high"], "eu_roles": ["deployer"],
              "lifecycle_stages": ["in_production"], "personal_data": True, "gpai": ["gpai"]}
    assert set(values) == set(APPLICABILITY_KEYS)
    applies, reason = evaluate(one("R", **{k: v for k, v in values.items() if k != "gpai"}), PROFILE)
    assert (applies, reason) == (True, "Applies: AI type Predictive ML; risk tier high; EU AI Act role deployer; "
                                       "lifecycle stage in production; processes personal data")
    with pytest.raises(ValueError, match="unknown applicability key"):
        evaluate(one("R", sectors=["banking"]), PROFILE)


def test_conditions_are_and_ed_and_the_first_failure_in_key_order_decides() -> None:
    rule = one("Article 26", eu_roles=["provider"], ai_types=["generative_ai"])  # both fail: ai_types read first
    assert evaluate(rule, PROFILE) == (
        False, "Out of scope: the system's AI type is Predictive ML; Article 26 applies to Generative AI systems.")


# --- inheritance -------------------------------------------------------------------------------------------------

def _tree() -> dict[int, Requirement]:
    nodes = [Requirement(id=1, parent_id=None, ref="Article 16", applicability={"eu_roles": ["provider"]}),
             Requirement(id=2, parent_id=1, ref="Article 16(a)", applicability={}),
             Requirement(id=3, parent_id=2, ref="Article 16(a)(i)", applicability={"risk_tiers": ["high"]}),
             Requirement(id=4, parent_id=None, ref="Article 4", applicability={})]
    return {n.id: n for n in nodes}


def test_children_inherit_their_ancestors_rules_root_first() -> None:
    tree = _tree()
    assert rules_for(tree[3], tree) == [Rule("Article 16", {"eu_roles": ["provider"]}),
                                        Rule("Article 16(a)(i)", {"risk_tiers": ["high"]})]
    assert rules_for(tree[4], tree) == []
    # the ancestor's rule excludes the grandchild, and the reason names the ancestor
    assert evaluate(rules_for(tree[3], tree), PROFILE) == (
        False, "Out of scope: the organisation is the system's deployer; Article 16 applies to providers.")
    assert evaluate(rules_for(tree[2], tree), profile(eu_role="provider")) == (
        True, "Applies: EU AI Act role provider")
    assert evaluate(rules_for(tree[3], tree), profile(eu_role="provider", risk_tier="limited")) == (
        False, "Out of scope: the system's risk tier is limited; Article 16(a)(i) applies to high-risk systems.")
    assert evaluate(rules_for(tree[3], tree), profile(eu_role="provider")) == (
        True, "Applies: EU AI Act role provider; risk tier high")


def test_a_repeated_condition_is_named_once() -> None:
    rules = [Rule("A", {"risk_tiers": ["high"]}), Rule("A.1", {"risk_tiers": ["high", "limited"]})]
    assert evaluate(rules, PROFILE) == (True, "Applies: risk tier high")


# --- the profile -------------------------------------------------------------------------------------------------

def test_profile_reads_the_inventory_lineage_and_the_current_classification(db: Session) -> None:
    unit = make_unit(db)
    plain = make_system(db, unit=unit, ai_type="generative_ai", lifecycle_status="in_validation",
                        eu_ai_act_role="provider")
    assert profile_for_system(db, plain) == {"ai_type": "generative_ai", "risk_tier": None, "eu_role": "provider",
                                             "lifecycle_stage": "in_validation", "personal_data": False,
                                             "gpai": None}
    # personal data through the base model of a fine-tuned model the system uses
    base = make_model(db, unit=unit, kind="open_weights")
    tuned = make_model(db, unit=unit, kind="fine_tuned", base_model=base)
    link_system_model(db, plain, tuned)
    link_model_dataset(db, base, make_dataset(db, unit=unit, personal_data=False))
    assert profile_for_system(db, plain)["personal_data"] is False
    link_model_dataset(db, base, make_dataset(db, unit=unit, personal_data=True))
    assert profile_for_system(db, plain)["personal_data"] is True
    # directly used dataset
    direct = make_system(db, unit=unit)
    link_system_dataset(db, direct, make_dataset(db, unit=unit, personal_data=True))
    assert profile_for_system(db, direct)["personal_data"] is True
    # gpai and tier from the current classification
    _writing(db)
    for version, current, gpai in ((1, False, "gpai_systemic"), (2, True, "gpai")):
        db.add(Classification(ai_system_id=plain.id, version=version, is_current=current,
                              questionnaire_version="2024/1689-1", answers={}, tier="limited", gpai=gpai))
    plain.risk_tier = "limited"
    db.commit()
    got = profile_for_system(db, plain)
    assert (got["risk_tier"], got["gpai"]) == ("limited", "gpai")
