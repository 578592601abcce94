"""Assessments on SQLite and PostgreSQL: which requirements a start selects and why, results and the two
percentages, the not-applicable justification rule, reuse through equivalent mappings, refreshing applicability,
completion, gaps, the summary, scoping, audit, and the API, pages and CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.auth.principal import Principal
from aicoe.cli.main import app as cli_app
from aicoe.compliance import assessments as service
from aicoe.compliance import evidence
from aicoe.compliance.schemas_assessments import ResultUpdate
from aicoe.config import Settings
from aicoe.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.core.time import utcnow
from aicoe.models.audit import AuditEvent
from aicoe.models.compliance import Assessment, ControlImplementation, Framework, RequirementResult
from aicoe.models.inventory import AISystem
from aicoe.models.org import BusinessUnit, User
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    login,
    make_settings,
    make_token,
    make_unit,
    make_user,
    use_cli_database,
)
from tests.governance_factories import make_control, make_framework, make_mapping, requirement
from tests.inventory_factories import _add, link_system_model, make_model, make_system

API = "/api/v1"
ALL = PageParams(limit=500)

EU_REQUIREMENTS = [
    {"ref": "Article 4", "title": "AI literacy"},
    {"ref": "Article 9", "title": "Risk management system", "assessable": False,
     "applicability": {"risk_tiers": ["high"]}},
    {"ref": "Article 9(1)", "title": "Establish a risk management system", "parent": "Article 9"},
    {"ref": "Article 9(2)", "title": "Run it across the lifecycle", "parent": "Article 9"},
    {"ref": "Article 16", "title": "Obligations of providers", "assessable": False,
     "applicability": {"eu_roles": ["provider"], "risk_tiers": ["high"]}},
    {"ref": "Article 16(a)", "title": "Meet the section 2 requirements", "parent": "Article 16"},
    {"ref": "Article 26", "title": "Obligations of deployers", "assessable": False,
     "applicability": {"eu_roles": ["deployer"], "risk_tiers": ["high"]}},
    {"ref": "Article 26(1)", "title": "Use according to the instructions", "parent": "Article 26"},
    {"ref": "Article 50", "title": "Transparency", "applicability": {"ai_types": ["generative_ai"]}},
]
ISO_REQUIREMENTS = [
    {"ref": "A.2", "title": "Policies related to AI", "assessable": False},
    {"ref": "A.2.2", "title": "AI policy", "parent": "A.2"},
    {"ref": "A.5", "title": "Assessing impacts", "assessable": False},
    {"ref": "A.5.2", "title": "Impact assessment process", "parent": "A.5"},
    {"ref": "A.5.3", "title": "Documentation of impact assessments", "parent": "A.5",
     "applicability": {"personal_data": True}},
]


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL."""
    return make_settings(any_db_url, tmp_path)


@dataclass
class World:
    unit: BusinessUnit
    other: BusinessUnit
    system: AISystem
    eu: Framework
    iso: Framework


def build(db: Session) -> World:
    unit, other = make_unit(db, name="Consumer Lending"), make_unit(db, name="Insurance")
    system = make_system(db, unit=unit, name="Credit Decision Engine", eu_ai_act_role="provider", risk_tier="high",
                         lifecycle_status="in_production")
    eu = make_framework(db, key="eu-test", name="EU AI Act", version="2024/1689", requirements=EU_REQUIREMENTS)
    iso = make_framework(db, key="iso-test", name="ISO/IEC 42001", version="2023", requirements=ISO_REQUIREMENTS)
    make_mapping(db, requirement(db, eu, "Article 9(1)"), requirement(db, iso, "A.2.2"))
    make_mapping(db, requirement(db, iso, "A.5.2"), requirement(db, eu, "Article 16(a)"))  # the other direction
    make_mapping(db, requirement(db, eu, "Article 4"), requirement(db, iso, "A.5.3"), relation="related")
    return World(unit, other, system, eu, iso)


@pytest.fixture
def world(db: Session) -> World:
    return build(db)


def by_ref(db: Session, assessment_id: int) -> dict[str, RequirementResult]:
    db.rollback()  # a fresh snapshot: requests and commands commit on their own connections
    rows = db.scalars(select(RequirementResult).where(RequirementResult.assessment_id == assessment_id))
    return {r.requirement.ref: r for r in rows}


def events(db: Session, entity_type: str, action: str | None = None) -> list[AuditEvent]:
    db.rollback()
    stmt = select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.scalars(stmt))


def update(db: Session, assessment: Assessment, ref: str, principal: Principal | None = None,
           **fields: object) -> RequirementResult:
    result = by_ref(db, assessment.id)[ref]
    out = service.update_result(db, principal, assessment.id, result.id, ResultUpdate(**fields))
    db.commit()
    return out


def start(db: Session, world: World, framework: Framework, principal: Principal | None = None,
          **kwargs: object) -> Assessment:
    assessment = service.start(db, principal, world.system.id, framework.id, **kwargs)  # type: ignore[arg-type]
    db.commit()
    return assessment


def principal_for(db: Session, **user_kwargs: object) -> Principal:
    user = make_user(db, **user_kwargs)  # type: ignore[arg-type]
    return Principal.resolve(db, db.get(User, user.id))


# --- starting ----------------------------------------------------------------------------------------------------

def test_start_selects_the_applicable_requirements_with_their_reasons(db: Session, world: World) -> None:
    a = start(db, world, world.eu, title="", due_date=date(2026, 9, 30))
    assert a.title == "EU AI Act — Credit Decision Engine" and a.status == "open"
    assert a.profile == {"ai_type": "predictive_ml", "risk_tier": "high", "eu_role": "provider",
                         "lifecycle_stage": "in_production", "personal_data": False, "gpai": None}
    got = {ref: (r.applicable, r.status, r.applicability_reason, r.justification)
           for ref, r in by_ref(db, a.id).items()}
    out_26 = "Out of scope: the organisation is the system's provider; Article 26 applies to deployers."
    out_50 = ("Out of scope: the system's AI type is Predictive ML; Article 50 applies to Generative AI "
              "systems.")
    assert got == {
        "Article 4": (True, "not_started", "Applies to every AI system: no applicability rule.", ""),
        "Article 9(1)": (True, "not_started", "Applies: risk tier high", ""),
        "Article 9(2)": (True, "not_started", "Applies: risk tier high", ""),
        "Article 16(a)": (True, "not_started", "Applies: risk tier high; EU AI Act role provider", ""),
        "Article 26(1)": (False, "not_applicable", out_26, out_26),
        "Article 50": (False, "not_applicable", out_50, out_50),
    }
    assert [r.requirement.ref for r in sorted(by_ref(db, a.id).values(), key=lambda r: r.position)] == [
        "Article 4", "Article 9(1)", "Article 9(2)", "Article 16(a)", "Article 26(1)", "Article 50"]
    db.refresh(a)
    assert (a.completion, a.compliance) == (0.0, 0.0)
    assert db.get(AISystem, world.system.id).assessment_status == "in_progress"
    [created] = events(db, "assessment", "create")
    assert '"results":[null,6]' in created.diff and '"applicable_results":[null,4]' in created.diff
    assert service.counts(db, a.id) == {"not_started": 4, "in_progress": 0, "met": 0, "partially_met": 0,
                                        "not_met": 0, "not_applicable": 0, "out_of_scope": 2, "inferred": 0}


def test_start_refuses_bad_references_an_old_version_and_a_second_open_assessment(db: Session,
                                                                                  world: World) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.start(db, None, 999_999, world.eu.id)
    assert [(e.field, e.message) for e in err.value.errors] == [("ai_system_id", "No AI system 999999.")]
    with pytest.raises(ValidationFailed) as err:
        service.start(db, None, world.system.id, 999_999)
    assert [(e.field, e.message) for e in err.value.errors] == [("framework_id", "No framework 999999.")]
    with pytest.raises(ValidationFailed) as err:
        service.start(db, None, world.system.id, world.eu.id, owner_id=888_888)
    assert [(e.field, e.message) for e in err.value.errors] == [("owner_id", "No person 888888.")]
    db.rollback()
    old = make_framework(db, key="eu-test", version="2021", name="EU AI Act", is_current=False,
                         requirements=[{"ref": "Article 1"}])
    with pytest.raises(ValidationFailed) as err:
        service.start(db, None, world.system.id, old.id)
    assert [(e.field, e.message) for e in err.value.errors] == [
        ("framework_id", "EU AI Act 2021 is not the current version; assess against version 2024/1689.")]
    db.rollback()
    first = start(db, world, world.eu)
    with pytest.raises(Conflict) as err:
        service.start(db, None, world.system.id, world.eu.id)
    assert err.value.detail == (f"Credit Decision Engine already has an open assessment against EU AI Act "
                                f"(#{first.id}); complete or archive it first")
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Assessment)) == 1


# --- results and percentages -------------------------------------------------------------------------------------

def test_updates_and_the_two_percentages_are_exact(db: Session, world: World) -> None:
    a = start(db, world, world.eu)
    owner = make_user(db, roles=[], full_name="Lena Fischer")
    update(db, a, "Article 9(1)", status="met", owner_id=owner.id, notes="Risk register v3 approved.")
    update(db, a, "Article 9(2)", status="partially_met", due_date=date(2026, 10, 1))
    db.refresh(a)
    assert (a.completion, a.compliance) == (0.5, 0.375)  # 2 of 4 decided; (1 + 0.5) / 4
    update(db, a, "Article 4", status="not_applicable", justification="No staff operate it; fully automated.")
    db.refresh(a)
    assert (a.completion, a.compliance) == (0.75, 0.5)  # 3 of 4; (1 + 0.5) / (4 - 1)
    update(db, a, "Article 16(a)", status="not_met")
    db.refresh(a)
    assert (a.completion, a.compliance) == (1.0, 0.5)
    r = by_ref(db, a.id)["Article 9(1)"]
    assert (r.owner_id, r.notes, r.status, r.inferred_from_id) == (owner.id, "Risk register v3 approved.", "met",
                                                                   None)
    updates = events(db, "requirement_result", "update")
    assert len(updates) == 4 and '"status":["not_started","met"]' in updates[0].diff
    recomputes = events(db, "assessment", "recompute")
    assert [e.diff for e in recomputes][-1] == '{"completion":[0.75,1.0]}'


def test_not_applicable_without_justification_is_refused_and_nothing_changes(db: Session, world: World) -> None:
    a = start(db, world, world.eu)
    before = len(events(db, "requirement_result"))
    with pytest.raises(ValidationFailed) as err:
        update(db, a, "Article 9(2)", status="not_applicable", justification="   ", notes="typed")
    assert [(e.field, e.message) for e in err.value.errors] == [
        ("justification", "Explain why this requirement does not apply to the system.")]
    db.rollback()
    r = by_ref(db, a.id)["Article 9(2)"]
    assert (r.status, r.notes, r.justification) == ("not_started", "", "")
    assert len(events(db, "requirement_result")) == before
    # a rule-excluded result keeps its status, and still needs its justification
    with pytest.raises(ValidationFailed) as err:
        update(db, a, "Article 50", status="met")
    assert err.value.errors[0].field == "status"
    db.rollback()
    with pytest.raises(ValidationFailed):
        update(db, a, "Article 50", justification="")
    db.rollback()
    update(db, a, "Article 50", notes="Checked with legal: no chatbot front-end.")
    assert by_ref(db, a.id)["Article 50"].status == "not_applicable"


def test_results_of_a_completed_assessment_are_read_only_until_reopened(db: Session, world: World) -> None:
    a = start(db, world, world.eu)
    with pytest.raises(Conflict) as err:
        service.complete(db, None, a.id)
    assert err.value.detail == ("4 applicable requirement(s) are not decided or await confirmation (Article 4, "
                                "Article 9(1), Article 9(2), Article 16(a)); decide them before completing")
    db.rollback()
    for ref in ("Article 4", "Article 9(1)", "Article 9(2)", "Article 16(a)"):
        update(db, a, ref, status="met")
    service.complete(db, None, a.id)
    db.commit()
    db.refresh(a)
    assert a.status == "completed" and a.completed_at is not None
    assert db.get(AISystem, world.system.id).assessment_status == "completed"
    with pytest.raises(Conflict):
        update(db, a, "Article 4", status="not_met")
    db.rollback()
    service.archive(db, None, a.id)
    db.commit()
    assert db.get(AISystem, world.system.id).assessment_status is None
    service.reopen(db, None, a.id)
    db.commit()
    db.refresh(a)
    assert (a.status, a.completed_at) == ("open", None)
    assert db.get(AISystem, world.system.id).assessment_status == "in_progress"
    assert [e.action for e in events(db, "assessment") if e.action not in ("recompute",)] == [
        "create", "complete", "archive", "reopen"]


# --- reuse across frameworks -------------------------------------------------------------------------------------

def test_a_new_assessment_is_prefilled_from_equivalent_results_as_inferred(db: Session, world: World) -> None:
    eu = start(db, world, world.eu)
    update(db, eu, "Article 9(1)", status="met")
    update(db, eu, "Article 4", status="met")  # only "related" to A.5.3: never reused
    iso = start(db, world, world.iso)
    results = by_ref(db, iso.id)
    source = by_ref(db, eu.id)["Article 9(1)"]
    assert (results["A.2.2"].status, results["A.2.2"].inferred_from_id) == ("met", source.id)
    assert (results["A.5.2"].status, results["A.5.2"].inferred_from_id) == ("not_started", None)
    assert results["A.5.3"].applicable is False
    db.refresh(iso)
    assert (iso.completion, iso.compliance) == (0.0, 0.0)  # inferred outcomes count once confirmed
    [infer] = events(db, "requirement_result", "infer")
    assert infer.entity_id == str(results["A.2.2"].id)
    service.confirm_result(db, None, iso.id, results["A.2.2"].id)
    db.commit()
    db.refresh(iso)
    assert (iso.completion, iso.compliance) == (0.5, 0.5)
    assert by_ref(db, iso.id)["A.2.2"].inferred_from_id is None
    assert len(events(db, "requirement_result", "confirm")) == 1
    with pytest.raises(Conflict) as err:
        service.confirm_result(db, None, iso.id, results["A.2.2"].id)
    assert err.value.detail == "A.2.2 has no inferred status to confirm"


def test_a_decision_is_offered_to_open_assessments_and_the_offer_follows_its_source(db: Session,
                                                                                    world: World) -> None:
    eu, iso = start(db, world, world.eu), start(db, world, world.iso)
    update(db, iso, "A.5.2", status="met")  # A.5.2 -> Article 16(a): offered in the reverse direction
    target = by_ref(db, eu.id)["Article 16(a)"]
    source = by_ref(db, iso.id)["A.5.2"]
    assert (target.status, target.inferred_from_id) == ("met", source.id)
    update(db, iso, "A.5.2", status="partially_met")
    assert by_ref(db, eu.id)["Article 16(a)"].status == "partially_met"
    update(db, iso, "A.5.2", status="in_progress")  # no longer decided: the offer is withdrawn
    target = by_ref(db, eu.id)["Article 16(a)"]
    assert (target.status, target.inferred_from_id) == ("not_started", None)
    assert [e.action for e in events(db, "requirement_result") if e.entity_id == str(target.id)] == [
        "infer", "infer", "withdraw_inference"]
    # an offer never overwrites work already started, and a manual update makes it the person's own
    update(db, eu, "Article 9(1)", status="in_progress")
    update(db, iso, "A.2.2", status="not_met")
    assert by_ref(db, eu.id)["Article 9(1)"].status == "in_progress"
    update(db, iso, "A.5.2", status="met")
    update(db, eu, "Article 16(a)", notes="Seen the ISO evidence.")
    target = by_ref(db, eu.id)["Article 16(a)"]
    assert (target.status, target.inferred_from_id, target.notes) == ("met", None, "Seen the ISO evidence.")
    update(db, iso, "A.5.2", status="not_met")  # the target is now someone's own: left alone
    assert by_ref(db, eu.id)["Article 16(a)"].status == "met"


# --- refreshing applicability ------------------------------------------------------------------------------------

def test_refresh_applicability_after_the_system_changes(db: Session, world: World) -> None:
    a = start(db, world, world.eu)
    update(db, a, "Article 9(1)", status="met")
    update(db, a, "Article 16(a)", status="met")
    system = db.get(AISystem, world.system.id)
    system.eu_ai_act_role, system.ai_type = "deployer", "generative_ai"
    db.commit()
    report = service.refresh_applicability(db, None, a.id)
    db.commit()
    assert (report.included, report.excluded, report.reasons_updated) == (
        ["Article 26(1)", "Article 50"], ["Article 16(a)"], [])
    got = {ref: (r.applicable, r.status, r.justification) for ref, r in by_ref(db, a.id).items()}
    assert got["Article 26(1)"] == (True, "not_started", "")
    assert got["Article 50"] == (True, "not_started", "")
    assert got["Article 16(a)"] == (False, "met", "")  # decided: kept, no longer counted
    assert by_ref(db, a.id)["Article 16(a)"].applicability_reason == (
        "Out of scope: the organisation is the system's deployer; Article 16 applies to providers.")
    db.refresh(a)
    assert a.profile["eu_role"] == "deployer"
    assert (a.completion, a.compliance) == (0.2, 0.2)  # 1 of 5 applicable decided and met
    system.risk_tier = None
    db.commit()
    report = service.refresh_applicability(db, None, a.id)
    db.commit()
    assert (report.included, report.excluded) == ([], [])
    assert report.reasons_updated == ["Article 9(1)", "Article 9(2)", "Article 26(1)"]
    assert by_ref(db, a.id)["Article 9(1)"].applicability_reason == (
        "Applies: risk tier not yet classified — included until the system is classified")
    [first, second] = events(db, "assessment", "refresh_applicability")
    assert '"excluded":[null,["Article 16(a)"]]' in first.diff and '"profile":' in first.diff


def test_an_undecided_result_leaving_scope_becomes_not_applicable(db: Session, world: World) -> None:
    a = start(db, world, world.eu)
    system = db.get(AISystem, world.system.id)
    system.risk_tier = "minimal"
    db.commit()
    report = service.refresh_applicability(db, None, a.id)
    db.commit()
    assert report.excluded == ["Article 9(1)", "Article 9(2)", "Article 16(a)"]
    r = by_ref(db, a.id)["Article 9(2)"]
    reason = "Out of scope: the system's risk tier is minimal; Article 9 applies to high-risk systems."
    assert (r.applicable, r.status, r.justification, r.applicability_reason) == (False, "not_applicable", reason,
                                                                                 reason)
    db.refresh(a)
    assert (a.completion, a.compliance) == (0.0, 0.0)  # Article 4 alone, not started


# --- gaps and summary --------------------------------------------------------------------------------------------

def test_gaps_list_not_met_overdue_and_partially_met_in_that_order(db: Session, world: World) -> None:
    today = utcnow().date()
    a = start(db, world, world.eu, due_date=today + timedelta(days=30))
    update(db, a, "Article 9(1)", status="partially_met")
    update(db, a, "Article 9(2)", status="in_progress", due_date=today - timedelta(days=3))
    update(db, a, "Article 16(a)", status="not_met")
    update(db, a, "Article 4", status="not_started", due_date=today)  # due today: not overdue yet
    page = service.gaps(db, None, ALL)
    assert [(g.kind, g.result.requirement.ref, g.due_date) for g in page.items] == [
        ("not_met", "Article 16(a)", today + timedelta(days=30)),
        ("overdue", "Article 9(2)", today - timedelta(days=3)),
        ("partially_met", "Article 9(1)", today + timedelta(days=30))]
    assert [g.result.requirement.ref for g in service.gaps(db, None, ALL, kind="overdue").items] == ["Article 9(2)"]
    later = service.gaps(db, None, ALL, today=today + timedelta(days=31))
    assert [(g.kind, g.result.requirement.ref) for g in later.items] == [
        ("not_met", "Article 16(a)"), ("overdue", "Article 9(2)"), ("overdue", "Article 4"),
        ("partially_met", "Article 9(1)")]
    with pytest.raises(ValidationFailed):
        service.gaps(db, None, ALL, kind="late")
    service.archive(db, None, a.id)
    db.commit()
    assert service.gaps(db, None, ALL).total == 0


def test_summary_pools_results_per_framework_and_per_system(db: Session, world: World) -> None:
    eu, iso = start(db, world, world.eu), start(db, world, world.iso)
    second = make_system(db, unit=world.unit, name="Adviser Notes", ai_type="generative_ai", risk_tier="limited")
    other_eu = service.start(db, None, second.id, world.eu.id)
    db.commit()
    update(db, eu, "Article 9(1)", status="met")
    update(db, eu, "Article 9(2)", status="partially_met")
    update(db, iso, "A.2.2", status="met")  # confirmed by hand: it was offered from Article 9(1)
    update(db, other_eu, "Article 4", status="not_met")
    summary = service.summary(db, None)
    frameworks = {row.subject.name: row.tally for row in summary.frameworks}
    # EU: 4 applicable on the first system, Article 4 and Article 50 on the second
    assert frameworks["EU AI Act"] == service.Tally(assessments=2, applicable=6, decided=3, met=1, partially_met=1,
                                                    not_applicable=0)
    assert (frameworks["EU AI Act"].completion, frameworks["EU AI Act"].compliance) == (0.5, 0.25)
    assert frameworks["ISO/IEC 42001"] == service.Tally(1, 2, 1, 1, 0, 0)
    systems = {row.subject.name: row.tally for row in summary.systems}
    assert systems["Credit Decision Engine"] == service.Tally(2, 6, 3, 2, 1, 0)
    assert systems["Credit Decision Engine"].compliance == pytest.approx(2.5 / 6)
    assert systems["Adviser Notes"] == service.Tally(1, 2, 1, 0, 0, 0)
    assert [row.subject.name for row in summary.systems] == ["Adviser Notes", "Credit Decision Engine"]
    tiers = {tier: n for tier, _, n in service.systems_by_tier(db, None)}
    assert tiers == {"prohibited": 0, "high": 1, "limited": 1, "minimal": 0, "unclassified": 0}


def test_empty_tallies() -> None:
    assert (service.Tally().completion, service.Tally().compliance) == (1.0, 1.0)
    assert service.Tally(applicable=2, decided=2, not_applicable=2).compliance == 1.0


# --- scoping -----------------------------------------------------------------------------------------------------

def test_a_unit_scoped_user_sees_and_changes_only_their_units(db: Session, world: World) -> None:
    mine = start(db, world, world.eu)
    foreign_system = make_system(db, unit=world.other, name="Claims Triage", risk_tier="high")
    foreign = service.start(db, None, foreign_system.id, world.eu.id)
    db.commit()
    scoped = principal_for(db, roles=[("practitioner", world.unit)])
    assert [a.id for a in service.list_assessments(db, scoped, ALL).items] == [mine.id]
    with pytest.raises(NotFound):
        service.get_assessment(db, scoped, foreign.id)
    result = by_ref(db, foreign.id)["Article 4"]
    with pytest.raises(NotFound):
        service.update_result(db, scoped, foreign.id, result.id, ResultUpdate(status="met"))
    with pytest.raises(ValidationFailed):  # a system the caller cannot see is no system at all
        service.start(db, scoped, foreign_system.id, world.iso.id)
    assert [g.result.assessment_id for g in service.gaps(db, scoped, ALL).items] == []
    assert [row.subject.name for row in service.summary(db, scoped).systems] == ["Credit Decision Engine"]
    # reading everywhere but writing in one unit: a visible system of another unit is refused with 403
    reader = principal_for(db, roles=[("auditor", None), ("practitioner", world.unit)])
    assert service.get_assessment(db, reader, foreign.id).id == foreign.id
    with pytest.raises(PermissionDenied):
        service.start(db, reader, foreign_system.id, world.iso.id)
    with pytest.raises(NotFound):
        service.update_result(db, reader, foreign.id, result.id, ResultUpdate(status="met"))


# --- API ---------------------------------------------------------------------------------------------------------

def headers_for(db: Session, **user_kwargs: object) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))  # type: ignore[arg-type]


def test_api_start_read_update_confirm_and_complete(client: TestClient, db: Session, world: World) -> None:
    h = headers_for(db, roles=[("risk_compliance", None)])
    r = client.post(f"{API}/assessments", headers=h, json={"ai_system_id": world.system.id,
                                                            "framework_id": world.eu.id, "due_date": "2026-12-31"})
    assert r.status_code == 201, r.text
    eu = r.json()
    assert (eu["title"], eu["status"], eu["due_date"], eu["completion"]) == (
        "EU AI Act — Credit Decision Engine", "open", "2026-12-31", 0.0)
    assert eu["framework"] == {"id": world.eu.id, "key": "eu-test", "name": "EU AI Act", "version": "2024/1689"}
    assert eu["counts"]["not_started"] == 4 and eu["counts"]["out_of_scope"] == 2
    r = client.post(f"{API}/assessments", headers=h, json={"ai_system_id": world.system.id,
                                                            "framework_id": world.eu.id})
    assert r.status_code == 409
    r = client.get(f"{API}/assessments/{eu['id']}/results", headers=h, params={"applicable": "false"})
    assert [x["requirement"]["ref"] for x in r.json()["items"]] == ["Article 26(1)", "Article 50"]
    results = {x["requirement"]["ref"]: x for x in client.get(f"{API}/assessments/{eu['id']}/results",
                                                                   headers=h).json()["items"]}
    url = f"{API}/assessments/{eu['id']}/results/{results['Article 9(1)']['id']}"
    r = client.patch(url, headers=h, json={"status": "not_applicable"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"field": "justification",
                                   "message": "Explain why this requirement does not apply to the system."}]
    r = client.patch(url, headers=h, json={"status": "met", "notes": "Board minutes 2026-03."})
    assert r.status_code == 200 and (r.json()["status"], r.json()["notes"]) == ("met", "Board minutes 2026-03.")
    r = client.patch(url, headers=h, json={"status": "excellent"})
    assert r.status_code == 422
    r = client.post(f"{API}/assessments", headers=h, json={"ai_system_id": world.system.id,
                                                            "framework_id": world.iso.id})
    iso = r.json()
    assert iso["counts"]["inferred"] == 1
    inferred = client.get(f"{API}/assessments/{iso['id']}/results", headers=h, params={"inferred": "true"}).json()
    [item] = inferred["items"]
    assert item["requirement"]["ref"] == "A.2.2" and item["status"] == "met"
    assert item["inferred_from"]["requirement"]["ref"] == "Article 9(1)"
    assert item["inferred_from"]["requirement"]["framework"]["key"] == "eu-test"
    r = client.post(f"{API}/assessments/{iso['id']}/results/{item['id']}/confirm", headers=h)
    assert r.status_code == 200 and r.json()["inferred_from"] is None
    r = client.post(f"{API}/assessments/{iso['id']}/results/{item['id']}/confirm", headers=h)
    assert r.status_code == 409
    r = client.post(f"{API}/assessments/{eu['id']}/complete", headers=h)
    assert r.status_code == 409 and "Article 4, Article 9(2), Article 16(a)" in r.json()["detail"]
    for ref in ("Article 4", "Article 9(2)", "Article 16(a)"):
        client.patch(f"{API}/assessments/{eu['id']}/results/{results[ref]['id']}", headers=h,
                     json={"status": "partially_met"})
    r = client.post(f"{API}/assessments/{eu['id']}/complete", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert (r.json()["completion"], r.json()["compliance"]) == (1.0, 0.625)
    r = client.patch(f"{API}/assessments/{eu['id']}", headers=h, json={"title": "EU AI Act 2026 review",
                                                                      "due_date": None})
    assert r.status_code == 200 and (r.json()["title"], r.json()["due_date"]) == ("EU AI Act 2026 review", None)
    assert client.patch(f"{API}/assessments/{eu['id']}", headers=h, json={"title": ""}).status_code == 422
    r = client.get(f"{API}/assessments", headers=h, params={"status": "completed"})
    assert [x["id"] for x in r.json()["items"]] == [eu["id"]]
    assert client.get(f"{API}/assessments", headers=h, params={"status": "done"}).status_code == 422
    r = client.post(f"{API}/assessments/{eu['id']}/reopen", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "open"
    r = client.post(f"{API}/assessments/{eu['id']}/refresh-applicability", headers=h)
    assert r.status_code == 200 and r.json()["included"] == [] and r.json()["excluded"] == []
    r = client.post(f"{API}/assessments/{eu['id']}/archive", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "archived"
    r = client.get(f"{API}/compliance/summary", headers=h)
    assert [(f["framework"]["key"], f["assessments"], f["completion"]) for f in r.json()["frameworks"]] == [
        ("iso-test", 1, 0.5)]


def test_api_gaps_and_scoping(client: TestClient, db: Session, world: World) -> None:
    a = start(db, world, world.eu)
    update(db, a, "Article 9(1)", status="not_met")
    foreign_system = make_system(db, unit=world.other, name="Claims Triage", risk_tier="high")
    foreign = service.start(db, None, foreign_system.id, world.eu.id)
    db.commit()
    update(db, foreign, "Article 4", status="not_met")
    scoped = headers_for(db, roles=[("practitioner", world.unit)])
    r = client.get(f"{API}/assessments/gaps", headers=scoped)
    assert r.status_code == 200
    [gap] = r.json()["items"]
    assert (gap["kind"], gap["requirement"]["ref"], gap["ai_system"]["name"], gap["inferred"]) == (
        "not_met", "Article 9(1)", "Credit Decision Engine", False)
    assert client.get(f"{API}/assessments/{foreign.id}", headers=scoped).status_code == 404
    assert client.get(f"{API}/assessments/{foreign.id}/results", headers=scoped).status_code == 404
    assert client.post(f"{API}/assessments/{foreign.id}/archive", headers=scoped).status_code == 404
    admin = headers_for(db)
    assert client.get(f"{API}/assessments/gaps", headers=admin).json()["total"] == 2
    assert client.get(f"{API}/assessments/gaps", headers=admin, params={"kind": "soon"}).status_code == 422


def test_api_links_evidence_to_a_result(client: TestClient, db: Session, world: World) -> None:
    a = start(db, world, world.eu)
    item = evidence.add_link(db, None, url="https://intranet.example/risk-register", title="Risk register",
                             business_unit_id=world.unit.id, effective_date=date(2026, 3, 1))
    db.commit()
    item_id, result = item.id, by_ref(db, a.id)["Article 9(1)"]
    h = headers_for(db, roles=[("risk_compliance", None)])
    r = client.post(f"{API}/assessments/{a.id}/results/{result.id}/evidence", headers=h,
                    json={"evidence_id": item_id})
    assert r.status_code == 201, r.text
    assert (r.json()["evidence_id"], r.json()["target_type"], r.json()["target_id"]) == (
        item_id, "requirement_result", result.id)
    assert [e.title for e in evidence.linked(db, "requirement_result", [result.id])[result.id]] == ["Risk register"]
    r = client.post(f"{API}/assessments/{a.id}/results/{result.id}/evidence", headers=h, json={"evidence_id": 999})
    assert r.status_code == 404


# --- pages -------------------------------------------------------------------------------------------------------

def test_pages_start_show_edit_and_confirm(client: TestClient, db: Session, world: World) -> None:
    user = make_user(db, roles=[("risk_compliance", None)], password=PASSWORD,
                     settings=client.app.state.settings)  # type: ignore[attr-defined]
    model = make_model(db, unit=world.unit, name="loan-decision-xgb", version="7.0")
    link_system_model(db, world.system, model)
    control = make_control(db, code="CTL-RISK-01", name="Model risk review",
                           requirements=[requirement(db, world.eu, "Article 9(1)")])
    _add(db, ControlImplementation(control_id=control.id, subject_type="model", subject_id=model.id,
                                   business_unit_id=world.unit.id, status="implemented"))
    login(client, user.email)
    page = client.get(f"/assessments/new?ai_system_id={world.system.id}")
    assert page.status_code == 200 and "Start an assessment" in page.text
    r = client.post("/assessments", data={"csrf_token": csrf_from(page.text), "ai_system_id": str(world.system.id),
                                          "framework_id": "", "title": "Typed title"}, follow_redirects=False)
    assert r.status_code == 422 and "Typed title" in r.text and 'id="e-framework_id"' in r.text
    r = client.post("/assessments", data={"csrf_token": csrf_from(page.text), "ai_system_id": str(world.system.id),
                                          "framework_id": str(world.eu.id)}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    a = db.scalar(select(Assessment))
    assert url == f"/assessments/{a.id}"
    detail = client.get(url)
    assert detail.status_code == 200
    text = detail.text
    assert "Article 9 Risk management system" in text  # the tree parent as a heading
    assert "Out of scope: the organisation is the system&#39;s provider; Article 26 applies to deployers." in text
    assert "CTL-RISK-01" in text and "inherited from model loan-decision-xgb 7.0" in text
    result = by_ref(db, a.id)["Article 9(2)"]
    form = client.get(f"/assessments/{a.id}/results/{result.id}/edit")
    assert form.status_code == 200 and "Run it across the lifecycle" in form.text
    r = client.post(f"/assessments/{a.id}/results/{result.id}", data={
        "csrf_token": csrf_from(form.text), "status": "not_applicable", "justification": "", "notes": "kept text"})
    assert r.status_code == 422 and 'id="e-justification"' in r.text and "kept text" in r.text
    assert by_ref(db, a.id)["Article 9(2)"].status == "not_started"
    r = client.post(f"/assessments/{a.id}/results/{result.id}", data={
        "csrf_token": csrf_from(form.text), "status": "met", "notes": "Lifecycle reviews quarterly."},
        follow_redirects=False)
    assert r.status_code == 303 and by_ref(db, a.id)["Article 9(2)"].status == "met"
    update(db, a, "Article 9(1)", status="met")
    iso = start(db, world, world.iso)
    inferred = by_ref(db, iso.id)["A.2.2"]
    detail = client.get(f"/assessments/{iso.id}")
    assert "Inferred from" in detail.text and "EU AI Act Article 9(1)" in detail.text
    assert f'action="/assessments/{iso.id}/results/{inferred.id}/confirm"' in detail.text
    r = client.post(f"/assessments/{iso.id}/results/{inferred.id}/confirm",
                    data={"csrf_token": csrf_from(detail.text)}, follow_redirects=False)
    assert r.status_code == 303 and by_ref(db, iso.id)["A.2.2"].inferred_from_id is None
    filtered = client.get(f"/assessments/{a.id}?status=met")
    assert "Article 9(2)" in filtered.text and "Article 16(a)" not in filtered.text
    r = client.post(f"/assessments/{a.id}/complete", data={"csrf_token": csrf_from(detail.text)})
    assert r.status_code == 409 and "decide them before completing" in r.text


def test_overview_list_gaps_and_system_panel_pages(client: TestClient, db: Session, world: World) -> None:
    a = start(db, world, world.eu, due_date=utcnow().date() - timedelta(days=1))
    update(db, a, "Article 9(1)", status="not_met")
    user = make_user(db, roles=[("risk_compliance", None)], password=PASSWORD,
                     settings=client.app.state.settings)  # type: ignore[attr-defined]
    login(client, user.email)
    overview = client.get("/compliance")
    assert overview.status_code == 200
    assert 'aria-current="true">Overview' in overview.text and "EU AI Act" in overview.text
    assert "Credit Decision Engine" in overview.text and "Top gaps" in overview.text
    listing = client.get("/assessments?q=credit")
    assert listing.status_code == 200 and f'href="/assessments/{a.id}"' in listing.text
    assert 'aria-current="true">Assessments' in listing.text
    gaps = client.get("/assessments/gaps?kind=overdue")
    assert gaps.status_code == 200 and "Article 4" in gaps.text and "Article 9(1)" not in gaps.text
    system = db.get(AISystem, world.system.id)
    system.eu_ai_act_role = "deployer"
    db.commit()
    r = client.post(f"/assessments/{a.id}/refresh-applicability", data={"csrf_token": csrf_from(listing.text)})
    assert r.status_code == 200  # followed the redirect to the assessment
    assert ("Applicability refreshed: 1 came into scope (Article 26(1)); 1 left scope (Article 16(a))."
            in r.text)
    system_page = client.get(f"/ai-systems/{world.system.id}")
    assert system_page.status_code == 200
    assert f'href="/assessments/{a.id}"' in system_page.text
    assert f'href="/assessments/new?ai_system_id={world.system.id}"' in system_page.text
    viewer = make_user(db, roles=[("viewer", None)], password=PASSWORD,
                       settings=client.app.state.settings)  # type: ignore[attr-defined]
    client.cookies.clear()
    login(client, viewer.email)
    assert client.get("/compliance").status_code == 403


# --- CLI ---------------------------------------------------------------------------------------------------------

def test_cli_start_list_show_and_gaps(db: Session, world: World, settings: Settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    use_cli_database(monkeypatch, settings.database_url, settings.data_dir)
    owner = make_user(db, roles=[], email="lena@example.com")
    runner = CliRunner()

    def invoke(*args: str):  # noqa: ANN202
        return runner.invoke(cli_app, ["assessment", *args], catch_exceptions=False)

    db.close()
    r = invoke("start", "credit decision engine", "eu-test", "--owner", "lena@example.com", "--due", "2026-12-31")
    assert r.exit_code == 0, r.output
    assert "4 requirement(s) in scope, 2 out of scope, 0 inferred" in r.output
    r = invoke("start", "Credit Decision Engine", "eu-test")
    assert r.exit_code == 1 and "already has an open assessment" in r.output
    r = invoke("start", "Credit Decision Engine", "iso-test", "--due", "31/12/2026")
    assert r.exit_code == 1 and "--due must be a date as YYYY-MM-DD" in r.output
    r = invoke("start", "Credit Decision Engine", "nist")
    assert r.exit_code == 1 and "no framework with id or key 'nist'" in r.output
    a = db.scalar(select(Assessment))
    assert a.owner_id == owner.id
    update(db, a, "Article 9(1)", status="not_met")
    r = invoke("list", "--framework", "eu-test")
    assert r.exit_code == 0 and "Credit Decision Engine" in r.output and "1 of 1 assessments" in r.output
    r = invoke("show", str(a.id))
    assert r.exit_code == 0 and "Article 26(1)" in r.output and "out of scope" in r.output
    r = invoke("show", str(a.id), "--in-scope")
    assert r.exit_code == 0 and "Article 26(1)" not in r.output
    r = invoke("gaps", "--system", "Credit Decision Engine")
    assert r.exit_code == 0 and "Article 9(1)" in r.output and "1 of 1 gaps" in r.output


# --- demo --------------------------------------------------------------------------------------------------------

def test_the_demo_seeds_assessments_idempotently(db_url: str, tmp_path: Path) -> None:
    from aicoe.core.db import make_engine, make_sessionmaker, session_scope
    from aicoe.demo import seed

    demo_settings = make_settings(db_url, tmp_path)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine, settings=demo_settings)
    try:
        with session_scope(factory) as s:
            assert seed(s, demo_settings).created["assessments"] == 6
        with session_scope(factory) as s:
            assert "assessments" not in seed(s, demo_settings).created
            rows = {(a.ai_system.name, a.framework.key): a for a in s.scalars(select(Assessment))}
            assert set(rows) == {("Credit Decision Engine", "eu-ai-act"), ("Credit Decision Engine", "iso-iec-42001"),
                                 ("SME Limit Advisor", "eu-ai-act"), ("SME Limit Advisor", "iso-iec-42001"),
                                 ("Fraud Sentinel", "nist-ai-rmf"), ("Cards Chat", "owasp-llm-top-10")}
            assert rows[("Credit Decision Engine", "eu-ai-act")].completion > 0.8
            assert rows[("SME Limit Advisor", "eu-ai-act")].completion < 0.2
            for key in (("Credit Decision Engine", "iso-iec-42001"), ("SME Limit Advisor", "iso-iec-42001")):
                assert service.counts(s, rows[key].id)["inferred"] == 1
            kinds = {g.kind for g in service.gaps(s, None, ALL).items}
            assert kinds == {"not_met", "overdue", "partially_met"}
            cde = rows[("Credit Decision Engine", "eu-ai-act")]
            linked = service.result_links(s, cde, service.all_results(s, None, cde.id))
            assert sum(len(links.evidence) for links in linked.values()) == 4  # and the evaluation run on Art. 10(2)
            assert s.scalar(select(AISystem.assessment_status).where(AISystem.name == "Cards Chat")) == "in_progress"
    finally:
        engine.dispose()
