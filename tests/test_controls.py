"""The control library: mappings to requirements, implementations on subjects, inheritance through models, base
models, datasets and vendors (a direct implementation wins), permissions and scoping, the API, pages and CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicoe.auth.principal import Principal
from aicoe.cli.main import app as cli
from aicoe.compliance import controls
from aicoe.compliance.schemas_controls import ControlCreate, ImplementationCreate
from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.audit import AuditEvent
from aicoe.models.compliance import Control, ControlImplementation, Evidence, EvidenceLink
from aicoe.models.inventory import AISystem, Dataset, Model, Vendor
from aicoe.models.org import BusinessUnit
from tests.factories import PASSWORD, bearer, csrf_from, login, make_token, make_unit, make_user
from tests.governance_factories import make_control, make_framework, requirement
from tests.inventory_factories import (
    _add,
    link_model_dataset,
    link_system_model,
    make_dataset,
    make_model,
    make_system,
    make_vendor,
)

API = "/api/v1"


@dataclass
class World:
    ret: BusinessUnit
    ins: BusinessUnit
    coe: BusinessUnit
    nimbus: Vendor  # vendor of the base model
    creditco: Vendor  # vendor of the loan dataset
    base: Model  # ow-llm 3.1 (COE), trained on the web corpus
    assistant: Model  # assistant-ft 1.0 (COE), fine-tuned from base
    scorer: Model  # scorer 2 (RET), trained on loans
    loans: Dataset  # RET, from creditco
    corpus: Dataset  # COE
    copilot: AISystem  # RET: uses assistant (so base, corpus, nimbus)
    credit: AISystem  # RET: uses scorer (so loans, creditco), vendor nimbus
    claims: AISystem  # INS: uses nothing


def build(db: Session) -> World:
    coe = make_unit(db, code="COE", name="CoE")
    ret, ins = make_unit(db, code="RET", name="Retail", parent=coe), make_unit(db, code="INS", name="Insurance")
    nimbus, creditco = make_vendor(db, name="Nimbus AI"), make_vendor(db, name="CreditCo", type="data_provider")
    corpus = make_dataset(db, unit=coe, name="Web corpus")
    loans = make_dataset(db, unit=ret, name="Loan applications", vendor=creditco)
    base = make_model(db, unit=coe, name="ow-llm", version="3.1", vendor=nimbus)
    assistant = make_model(db, unit=coe, name="assistant-ft", version="1.0", base_model=base)
    scorer = make_model(db, unit=ret, name="scorer", version="2")
    link_model_dataset(db, base, corpus)
    link_model_dataset(db, scorer, loans)
    copilot = make_system(db, unit=ret, name="Copilot")
    credit = make_system(db, unit=ret, name="Credit engine", vendors=[nimbus])
    claims = make_system(db, unit=ins, name="Claims triage")
    link_system_model(db, copilot, assistant)
    link_system_model(db, credit, scorer)
    return World(ret, ins, coe, nimbus, creditco, base, assistant, scorer, loans, corpus, copilot, credit, claims)


def impl(db: Session, control: Control, subject_type: str, subject: object, status: str = "implemented",
         unit: BusinessUnit | None = None) -> ControlImplementation:
    db.commit()
    return _add(db, ControlImplementation(control_id=control.id, subject_type=subject_type,
                                          subject_id=subject.id, status=status,  # type: ignore[attr-defined]
                                          business_unit_id=unit.id if unit else None))


def effective(db: Session, system: AISystem) -> list[tuple[str, str | None, str]]:
    db.rollback()
    return [(e.control.code, e.inherited_from, e.implementation.status)
            for e in controls.effective_for_system(db, system.id)]


def events(db: Session, entity_type: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq)))


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def headers_for(db: Session, **user_kwargs: object) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))  # type: ignore[arg-type]


def errors_of(response) -> dict[str, str]:  # noqa: ANN001
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


# --- inheritance (both databases) ------------------------------------------------------------------------------

@pytest.fixture
def any_db(any_db_url: str) -> Iterator[Session]:
    """A session on a fresh database of each backend (the lineage queries are SQL)."""
    engine = make_engine(any_db_url)
    session = make_sessionmaker(engine)()
    yield session
    session.rollback()
    session.close()
    engine.dispose()


def test_inheritance_through_model_base_model_dataset_and_vendor(any_db: Session) -> None:
    db = any_db
    w = build(db)
    c_model = make_control(db, code="CTL-MODEL-01")
    c_base = make_control(db, code="CTL-BASE-01")
    c_corpus = make_control(db, code="CTL-DATA-01")
    c_loans = make_control(db, code="CTL-DATA-02")
    c_vendor = make_control(db, code="CTL-VEND-01")
    c_datavendor = make_control(db, code="CTL-VEND-02")
    impl(db, c_model, "model", w.assistant, unit=w.coe)
    impl(db, c_base, "model", w.base, "not_effective", unit=w.coe)
    impl(db, c_corpus, "dataset", w.corpus, unit=w.coe)
    impl(db, c_loans, "dataset", w.loans, "planned", unit=w.ret)
    nimbus_impl = impl(db, c_vendor, "vendor", w.nimbus)
    impl(db, c_datavendor, "vendor", w.creditco)
    assert effective(db, w.copilot) == [
        ("CTL-BASE-01", "model ow-llm 3.1 (base of assistant-ft 1.0)", "not_effective"),
        ("CTL-DATA-01", "dataset Web corpus", "implemented"),
        ("CTL-MODEL-01", "model assistant-ft 1.0", "implemented"),
        ("CTL-VEND-01", "vendor Nimbus AI", "implemented"),
    ]
    assert effective(db, w.credit) == [
        ("CTL-DATA-02", "dataset Loan applications", "planned"),
        ("CTL-VEND-01", "vendor Nimbus AI", "implemented"),  # the system's own vendor
        ("CTL-VEND-02", "vendor CreditCo", "implemented"),  # the vendor of a dataset its model uses
    ]
    assert effective(db, w.claims) == []
    db.rollback()
    assert [s.name for s in controls.systems_inheriting(db, nimbus_impl)] == ["Copilot", "Credit engine"]
    [loans_impl] = [i for i in db.scalars(select(ControlImplementation).where(
        ControlImplementation.control_id == c_loans.id))]
    assert [s.name for s in controls.systems_inheriting(db, loans_impl)] == ["Credit engine"]
    requirement_ids = {e.control.code: e.requirement_ids for e in controls.effective_for_system(db, w.copilot.id)}
    assert requirement_ids["CTL-MODEL-01"] == frozenset()


def test_direct_implementation_wins_and_working_inherited_ones_are_preferred(any_db: Session) -> None:
    db = any_db
    w = build(db)
    framework = make_framework(db, key="nist-ai-rmf", requirements=[{"ref": "MEASURE 2.11"}, {"ref": "MAP 4.1"}])
    bias = make_control(db, code="CTL-BIAS-01", requirements=[requirement(db, framework, "MEASURE 2.11"),
                                                              requirement(db, framework, "MAP 4.1")])
    on_model = impl(db, bias, "model", w.assistant, unit=w.coe)
    impl(db, bias, "ai_system", w.copilot, "planned", unit=w.ret)
    [(code, source, status)] = effective(db, w.copilot)
    assert (code, source, status) == ("CTL-BIAS-01", None, "planned")
    [e] = controls.effective_for_system(db, w.copilot.id)
    assert e.requirement_ids == frozenset({requirement(db, framework, "MEASURE 2.11").id,
                                           requirement(db, framework, "MAP 4.1").id})
    db.rollback()
    # the copilot implements it itself, so it does not count as benefiting from the model's implementation
    assert controls.systems_inheriting(db, on_model) == []
    # among inherited ones: implemented beats planned even when further away in the lineage
    red = make_control(db, code="CTL-RED-01")
    impl(db, red, "model", w.assistant, "planned", unit=w.coe)
    impl(db, red, "vendor", w.nimbus, "implemented")
    assert ("CTL-RED-01", "vendor Nimbus AI", "implemented") in effective(db, w.copilot)
    with pytest.raises(NotFound):
        controls.effective_for_system(db, 999_999)


# --- service rules ---------------------------------------------------------------------------------------------

def test_implementing_checks_the_subject_scope_and_duplicates(db: Session) -> None:
    w = build(db)
    control = make_control(db, code="CTL-HITL-01")
    who = Principal.resolve(db, make_user(db, roles=[("practitioner", w.ret)]))
    made = controls.implement(db, who, control.id, ImplementationCreate(subject_type="ai_system",
                                                                        subject_id=w.credit.id))
    assert (made.business_unit_id, made.status) == (w.ret.id, "implemented")
    with pytest.raises(Conflict):
        controls.implement(db, who, control.id, ImplementationCreate(subject_type="ai_system",
                                                                     subject_id=w.credit.id))
    with pytest.raises(NotFound) as hidden:  # a COE model is not visible to a RET-scoped user
        controls.implement(db, who, control.id, ImplementationCreate(subject_type="model", subject_id=w.base.id))
    assert hidden.value.errors[0].field == "subject_id"
    with pytest.raises(PermissionDenied, match="CoE-wide"):  # vendors are shared by every unit
        controls.implement(db, who, control.id, ImplementationCreate(subject_type="vendor", subject_id=w.nimbus.id))
    with pytest.raises(ValidationFailed) as future:
        controls.implement(db, who, control.id, ImplementationCreate(
            subject_type="model", subject_id=w.scorer.id, implemented_on=date.today() + timedelta(days=3)))
    assert future.value.errors[0].field == "implemented_on"
    planned = controls.implement(db, who, control.id, ImplementationCreate(
        subject_type="model", subject_id=w.scorer.id, status="planned", implemented_on=date.today() + timedelta(3)))
    assert planned.status == "planned"
    with pytest.raises(PermissionDenied):  # the library itself is control:write only
        controls.create_control(db, who, ControlCreate(code="CTL-X", name="X", category="data"))


# --- API ---------------------------------------------------------------------------------------------------------

def test_control_library_api_create_map_update_delete_and_audit(client: TestClient, db: Session) -> None:
    nist = make_framework(db, key="nist-ai-rmf", name="NIST AI RMF",
                          requirements=[{"ref": "MEASURE 2.11", "title": "Fairness"}])
    iso = make_framework(db, key="iso-iec-42001", version="2023", requirements=[{"ref": "A.6.2.4"}])
    owner = make_user(db, roles=[], full_name="Olga Owner")
    admin = headers_for(db)
    r = client.post(f"{API}/controls", headers=admin, json={
        "code": " ctl-bias-01 ", "name": "Bias testing before release", "category": "testing",
        "owner_id": owner.id, "description": "Disparate impact by age band and gender."})
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["code"], out["owner"], out["requirements"], out["implementations"]) == (
        "CTL-BIAS-01", {"id": owner.id, "full_name": "Olga Owner"}, [], [])
    control_id = out["id"]
    r = client.post(f"{API}/controls", headers=admin, json={"code": "CTL-BIAS-01", "name": "Again",
                                                              "category": "testing"})
    assert r.status_code == 409 and errors_of(r) == {"code": "'CTL-BIAS-01' is already taken."}
    r = client.post(f"{API}/controls", headers=admin, json={"code": "bad code", "name": "", "category": "magic",
                                                              "owner_id": 1})
    assert r.status_code == 422 and set(errors_of(r)) == {"code", "name", "category"}
    r = client.post(f"{API}/controls", headers=admin, json={"code": "CTL-Z", "name": "Z", "category": "data",
                                                              "owner_id": 999_999})
    assert r.status_code == 422 and errors_of(r) == {"owner_id": "No person 999999."}
    assert count(db, Control) == 1
    m1, m2 = requirement(db, nist, "MEASURE 2.11"), requirement(db, iso, "A.6.2.4")
    r = client.put(f"{API}/controls/{control_id}/requirements", headers=admin,
                   json={"requirement_ids": [m2.id, m1.id, 424242]})
    assert r.status_code == 422 and errors_of(r) == {"requirement_ids": "No requirement 424242."}
    r = client.put(f"{API}/controls/{control_id}/requirements", headers=admin, json={"requirement_ids": [m2.id, m1.id]})
    assert r.status_code == 200
    assert [(q["framework_key"], q["ref"]) for q in r.json()["requirements"]] == [
        ("iso-iec-42001", "A.6.2.4"), ("nist-ai-rmf", "MEASURE 2.11")]
    listed = client.get(f"{API}/controls", headers=admin, params={"framework_id": nist.id}).json()
    assert [c["code"] for c in listed["items"]] == ["CTL-BIAS-01"] and listed["items"][0]["implementation_count"] == 0
    assert client.get(f"{API}/controls", headers=admin, params={"category": "security"}).json()["total"] == 0
    assert client.get(f"{API}/controls", headers=admin, params={"category": "nope"}).status_code == 422
    r = client.patch(f"{API}/controls/{control_id}", headers=admin, json={"name": "Bias testing", "owner_id": None})
    assert r.status_code == 200 and (r.json()["name"], r.json()["owner"]) == ("Bias testing", None)
    assert client.patch(f"{API}/controls/{control_id}", headers=admin, json={"name": None}).status_code == 422
    assert [(e.action, e.entity_id) for e in events(db, "control")] == [
        ("create", str(control_id)), ("map_requirements", str(control_id)), ("update", str(control_id))]
    mapped = events(db, "control")[1]
    assert '"requirements":[[],["iso-iec-42001 A.6.2.4","nist-ai-rmf MEASURE 2.11"]]' in mapped.diff
    # delete: refused while implemented, allowed once the implementation is gone
    unit = make_unit(db)
    system = make_system(db, unit=unit, name="Scorer")
    r = client.post(f"{API}/controls/{control_id}/implementations", headers=admin,
                    json={"subject_type": "ai_system", "subject_id": system.id, "notes": "quarterly"})
    assert r.status_code == 201, r.text
    implementation = r.json()
    assert (implementation["subject_label"], implementation["business_unit_id"], implementation["status"]) == (
        "Scorer", unit.id, "implemented")
    assert client.delete(f"{API}/controls/{control_id}", headers=admin).status_code == 409
    r = client.patch(f"{API}/control-implementations/{implementation['id']}", headers=admin,
                     json={"status": "not_effective"})
    assert r.status_code == 200 and r.json()["status"] == "not_effective"
    assert client.delete(f"{API}/control-implementations/{implementation['id']}", headers=admin).status_code == 204
    assert client.delete(f"{API}/controls/{control_id}", headers=admin).status_code == 204
    assert count(db, Control) == 0
    assert [e.action for e in events(db, "control_implementation")] == ["create", "update", "delete"]


def test_system_controls_api_and_scoping(client: TestClient, db: Session) -> None:
    w = build(db)
    control = make_control(db, code="CTL-DM-01", name="Data minimisation review", category="data")
    on_loans = impl(db, control, "dataset", w.loans, unit=w.ret)
    on_claims = impl(db, make_control(db, code="CTL-INS-01"), "ai_system", w.claims, unit=w.ins)
    scoped = headers_for(db, roles=[("practitioner", w.ret)])
    r = client.get(f"{API}/ai-systems/{w.credit.id}/controls", headers=scoped)
    assert r.status_code == 200
    [row] = r.json()
    assert (row["control"]["code"], row["inherited_from"], row["implementation"]["subject_label"]) == (
        "CTL-DM-01", "dataset Loan applications", "Loan applications")
    assert client.get(f"{API}/ai-systems/{w.claims.id}/controls", headers=scoped).status_code == 404
    # the INS implementation is not shown to a RET reader, nor editable
    detail = client.get(f"{API}/controls/{on_claims.control_id}", headers=scoped).json()
    assert detail["implementations"] == []
    assert client.patch(f"{API}/control-implementations/{on_claims.id}", headers=scoped,
                        json={"status": "planned"}).status_code == 404
    r = client.post(f"{API}/controls/{control.id}/implementations", headers=scoped,
                    json={"subject_type": "vendor", "subject_id": w.nimbus.id})
    assert r.status_code == 403
    r = client.post(f"{API}/controls/{control.id}/implementations", headers=scoped,
                    json={"subject_type": "ai_system", "subject_id": w.claims.id})
    assert r.status_code == 404 and errors_of(r) == {"subject_id": f"No AI system {w.claims.id}."}
    assert client.post(f"{API}/controls", headers=scoped, json={"code": "X1", "name": "X",
                                                                 "category": "data"}).status_code == 403
    # removing an implementation detaches its evidence, which itself stays
    db.commit()
    ev = _add(db, Evidence(title="Review", kind="link", url="https://x.example", sha256="0" * 64,
                           business_unit_id=w.ret.id, effective_date=date.today()))
    _add(db, EvidenceLink(evidence_id=ev.id, target_type="control_implementation", target_id=on_loans.id))
    assert client.delete(f"{API}/control-implementations/{on_loans.id}", headers=scoped).status_code == 204
    assert count(db, EvidenceLink) == 0 and count(db, Evidence) == 1
    [deleted] = [e for e in events(db, "control_implementation") if e.action == "delete"]
    assert f'"evidence_ids":[[{ev.id}],null]' in deleted.diff


# --- pages -------------------------------------------------------------------------------------------------------

@pytest.fixture
def browser(client: TestClient, db: Session, settings: Settings) -> TestClient:
    user = make_user(db, email="ada@example.com", full_name="Ada Admin", password=PASSWORD, settings=settings)
    login(client, user.email)
    return client


def test_control_pages_add_map_implement_and_show_inheritance(browser: TestClient, db: Session) -> None:
    w = build(db)
    make_framework(db, key="nist-ai-rmf", name="NIST AI RMF", requirements=[{"ref": "MEASURE 2.11",
                                                                              "title": "Fairness is evaluated"}])
    page = browser.get("/controls/new")
    assert page.status_code == 200 and "Add a control" in page.text
    token = csrf_from(page.text)
    bad = browser.post("/controls", data={"csrf_token": token, "code": "CTL BIAS", "name": "Bias testing",
                                          "category": "testing"})
    assert bad.status_code == 422 and 'id="e-code"' in bad.text and 'value="Bias testing"' in bad.text
    r = browser.post("/controls", data={"csrf_token": token, "code": "ctl-bias-01", "name": "Bias testing",
                                        "category": "testing"}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    missing = browser.post(f"{url}/requirements", data={"csrf_token": token, "requirement": "MEASURE 9.9"})
    assert missing.status_code == 422 and 'id="e-requirement"' in missing.text and "MEASURE 9.9" in missing.text
    r = browser.post(f"{url}/requirements", data={"csrf_token": token, "requirement": "nist-ai-rmf MEASURE 2.11"},
                     follow_redirects=False)
    assert r.status_code == 303
    r = browser.post(f"{url}/implementations", data={"csrf_token": token, "subject": ""})
    assert r.status_code == 422 and 'id="e-subject"' in r.text
    r = browser.post(f"{url}/implementations", data={"csrf_token": token, "subject": f"model:{w.base.id}",
                                                     "status": "implemented", "notes": "release gate"},
                     follow_redirects=False)
    assert r.status_code == 303
    again = browser.post(f"{url}/implementations", data={"csrf_token": token, "subject": f"model:{w.base.id}",
                                                         "status": "implemented"})
    assert again.status_code == 409 and 'id="e-subject"' in again.text
    detail = browser.get(url)
    assert "MEASURE 2.11" in detail.text and "Fairness is evaluated" in detail.text
    assert "ow-llm 3.1" in detail.text and ">Copilot</a>" in detail.text and "release gate" in detail.text
    listing = browser.get("/controls")
    assert "CTL-BIAS-01" in listing.text and ">MEASURE 2.11</a>" in listing.text
    system_page = browser.get(f"/ai-systems/{w.copilot.id}")
    assert "Inherited from model ow-llm 3.1 (base of assistant-ft 1.0)" in system_page.text
    db.rollback()
    implementation = db.scalar(select(ControlImplementation))
    assert implementation is not None
    edit = browser.get(f"/control-implementations/{implementation.id}/edit")
    assert edit.status_code == 200
    future = (date.today() + timedelta(days=5)).isoformat()
    bad = browser.post(f"/control-implementations/{implementation.id}",
                       data={"csrf_token": token, "status": "implemented", "implemented_on": future})
    assert bad.status_code == 422 and 'id="e-implemented_on"' in bad.text
    r = browser.post(f"/control-implementations/{implementation.id}",
                     data={"csrf_token": token, "status": "planned", "implemented_on": future}, follow_redirects=False)
    assert r.status_code == 303
    assert "Planned" in browser.get(f"/ai-systems/{w.copilot.id}").text


def test_control_pages_hide_other_units(client: TestClient, db: Session, settings: Settings) -> None:
    w = build(db)
    control = make_control(db, code="CTL-INS-01", name="Claims review")
    impl(db, control, "ai_system", w.claims, unit=w.ins)
    impl(db, control, "ai_system", w.credit, unit=w.ret)
    # compliance within Retail only, the inventory everywhere (as a viewer)
    make_user(db, email="ret@example.com", roles=[("practitioner", w.ret), ("viewer", None)], password=PASSWORD,
              settings=settings)
    login(client, "ret@example.com")
    page = client.get(f"/controls/{control.id}")
    assert page.status_code == 200 and ">Credit engine</a>" in page.text and "Claims triage" not in page.text
    assert "Add a control" not in client.get("/controls").text
    assert client.get("/controls/new").status_code == 403
    claims = client.get(f"/ai-systems/{w.claims.id}")
    assert claims.status_code == 200 and "CTL-INS-01" not in claims.text
    assert "CTL-INS-01" in client.get(f"/ai-systems/{w.credit.id}").text


# --- CLI ---------------------------------------------------------------------------------------------------------

def test_cli_lists_and_shows_controls(cli_db: Session, tmp_path: Path) -> None:
    db = cli_db
    w = build(db)
    nist = make_framework(db, key="nist-ai-rmf", requirements=[{"ref": "MEASURE 2.11"}])
    control = make_control(db, code="CTL-BIAS-01", name="Bias testing before release",
                           requirements=[requirement(db, nist, "MEASURE 2.11")])
    make_control(db, code="CTL-SEC-01", name="Prompt-injection red teaming", category="security")
    impl(db, control, "vendor", w.nimbus)
    db.close()
    runner = CliRunner()
    r = runner.invoke(cli, ["control", "list"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "CTL-BIAS-01" in r.output and "nist-ai-rmf: MEASURE 2.11" in r.output and "2 of 2 controls" in r.output
    r = runner.invoke(cli, ["control", "list", "--framework", "nist-ai-rmf"], catch_exceptions=False)
    assert "1 of 1 controls" in r.output and "CTL-SEC-01" not in r.output
    r = runner.invoke(cli, ["control", "show", "ctl-bias-01"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "vendor Nimbus AI" in r.output and "Copilot, Credit engine" in r.output
    r = runner.invoke(cli, ["control", "show", "CTL-NOPE"])
    assert r.exit_code == 1 and "no control with code or id 'CTL-NOPE'" in r.output


def test_services_refuse_a_caller_without_the_permission(db: Session) -> None:
    viewer = Principal.resolve(db, make_user(db, roles=[("viewer", None)]))
    with pytest.raises(PermissionDenied):
        controls.list_controls(db, viewer, PageParams())
    with pytest.raises(PermissionDenied):
        controls.get_control(db, viewer, 1)
