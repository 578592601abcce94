"""AI systems, their model/dataset links and deployments, vendors and the inventory search: validation by
field, audit, business-unit scoping, permissions, refusals with dependants, and the pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.models.audit import AuditEvent
from aicoe.models.inventory import AISystem, Deployment, SystemDataset, SystemModel, Vendor
from tests.factories import PASSWORD, bearer, csrf_from, login, make_settings, make_token, make_unit, make_user
from tests.inventory_factories import (
    link_system_model,
    make_dataset,
    make_deployment,
    make_model,
    make_system,
    make_vendor,
)
from tests.portfolio_factories import make_use_case

API = "/api/v1"


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (case-insensitive matching and sorting are SQL)."""
    return make_settings(any_db_url, tmp_path)


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def headers_for(db: Session, **user_kwargs: object) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, **user_kwargs)))  # type: ignore[arg-type]


def events(db: Session, entity_type: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq)))


def errors_of(response) -> dict[str, str]:  # noqa: ANN001
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


# --- AI systems ------------------------------------------------------------------------------------------------

def test_register_a_system_with_every_field_and_audit(client: TestClient, db: Session) -> None:
    unit = make_unit(db, name="Retail banking")
    owner, tech = make_user(db, roles=[], full_name="Olga Owner"), make_user(db, roles=[], full_name="Tom Tech")
    use_case = make_use_case(db, unit=unit, title="Card fraud detection")
    vendor = make_vendor(db, name="Acme AI")
    admin = headers_for(db)
    body = {"name": "Fraud Sentinel", "purpose": "Scores card transactions for fraud", "use_case_id": use_case.id,
            "business_unit_id": unit.id, "owner_id": owner.id, "technical_owner_id": tech.id,
            "ai_type": "predictive_ml", "lifecycle_status": "in_production", "eu_ai_act_role": "provider",
            "affected_people": "Card holders", "human_oversight": "Analysts review every block",
            "vendor_ids": [vendor.id]}
    r = client.post(f"{API}/ai-systems", headers=admin, json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["use_case"] == {"id": use_case.id, "key": use_case.key, "title": "Card fraud detection"}
    assert out["owner"] == {"id": owner.id, "full_name": "Olga Owner"}
    assert out["technical_owner"] == {"id": tech.id, "full_name": "Tom Tech"}
    assert out["vendors"] == [{"id": vendor.id, "name": "Acme AI"}]
    assert (out["eu_ai_act_role"], out["lifecycle_status"], out["risk_tier"], out["assessment_status"]) == (
        "provider", "in_production", None, None)
    assert (out["model_links"], out["dataset_links"], out["deployments"]) == ([], [], [])
    [event] = events(db, "ai_system")
    assert (event.action, event.entity_id) == ("create", str(out["id"]))
    assert f'"vendor_ids":[null,[{vendor.id}]]' in event.diff
    # risk tier is the compliance area's: the API refuses it as an unknown field
    r = client.patch(f"{API}/ai-systems/{out['id']}", headers=admin, json={"risk_tier": "high"})
    assert r.status_code == 422


def test_bad_input_is_named_by_field_and_nothing_is_written(client: TestClient, db: Session) -> None:
    unit, other = make_unit(db), make_unit(db)
    hidden_case = make_use_case(db, unit=other)
    scoped = headers_for(db, roles=[("practitioner", unit)])
    r = client.post(f"{API}/ai-systems", headers=scoped, json={
        "name": "X", "business_unit_id": unit.id, "ai_type": "predictive_ml", "owner_id": 999_999,
        "use_case_id": hidden_case.id, "vendor_ids": [424242]})
    assert r.status_code == 422
    assert errors_of(r) == {"owner_id": "No person 999999.", "use_case_id": f"No use case {hidden_case.id}.",
                            "vendor_ids": "No vendor 424242."}
    r = client.post(f"{API}/ai-systems", headers=scoped, json={"name": "X", "business_unit_id": unit.id,
                                                                 "ai_type": "quantum", "lifecycle_status": "alive"})
    assert r.status_code == 422
    assert count(db, AISystem) == 0 and events(db, "ai_system") == []
    make_system(db, unit=unit, name="Churn Radar")
    r = client.post(f"{API}/ai-systems", headers=scoped, json={"name": "churn radar", "business_unit_id": unit.id,
                                                                 "ai_type": "agentic"})
    assert r.status_code == 409 and errors_of(r) == {"name": "'churn radar' is already taken."}
    assert count(db, AISystem) == 1


def test_scoped_practitioner_sees_and_changes_only_their_units_systems(client: TestClient, db: Session) -> None:
    mine, theirs = make_unit(db, name="Mine"), make_unit(db, name="Theirs")
    own = make_system(db, unit=mine, name="Own system")
    foreign = make_system(db, unit=theirs, name="Foreign system")
    headers = headers_for(db, roles=[("practitioner", mine)])
    listed = client.get(f"{API}/ai-systems", headers=headers).json()
    assert [s["name"] for s in listed["items"]] == ["Own system"] and listed["total"] == 1
    assert client.get(f"{API}/ai-systems/{foreign.id}", headers=headers).status_code == 404
    assert client.patch(f"{API}/ai-systems/{foreign.id}", headers=headers, json={"name": "Z"}).status_code == 404
    assert client.delete(f"{API}/ai-systems/{foreign.id}", headers=headers).status_code == 404
    assert client.get(f"{API}/ai-systems/{foreign.id}/deployments", headers=headers).status_code == 404
    r = client.post(f"{API}/ai-systems", headers=headers, json={"name": "Sneaky", "business_unit_id": theirs.id,
                                                                  "ai_type": "agentic"})
    assert r.status_code == 403
    r = client.patch(f"{API}/ai-systems/{own.id}", headers=headers, json={"business_unit_id": theirs.id})
    assert r.status_code == 403
    assert client.patch(f"{API}/ai-systems/{own.id}", headers=headers, json={"name": "Renamed"}).status_code == 200
    viewer = headers_for(db, roles=[("viewer", None)])
    assert client.get(f"{API}/ai-systems/{foreign.id}", headers=viewer).status_code == 200
    assert client.patch(f"{API}/ai-systems/{own.id}", headers=viewer, json={"name": "V"}).status_code == 403
    assert client.post(f"{API}/vendors", headers=viewer, json={"name": "V", "type": "isv"}).status_code == 403


def test_list_filters_and_sorting(client: TestClient, db: Session) -> None:
    retail, ops = make_unit(db, name="Retail"), make_unit(db, name="Ops")
    owner = make_user(db, roles=[])
    vendor = make_vendor(db, name="OpenModels")
    make_system(db, unit=retail, name="beta scorer", ai_type="predictive_ml", lifecycle_status="in_production",
                risk_tier="high", owner=owner, vendors=[vendor], purpose="Credit decisions")
    make_system(db, unit=retail, name="Alpha assistant", ai_type="generative_ai", risk_tier="limited",
                technical_owner=owner)
    make_system(db, unit=ops, name="Gamma agent", ai_type="agentic", lifecycle_status="retired")
    admin = headers_for(db)

    def names(**params: object) -> list[str]:
        r = client.get(f"{API}/ai-systems", headers=admin, params=params)
        assert r.status_code == 200, r.text
        return [s["name"] for s in r.json()["items"]]

    assert names() == ["Alpha assistant", "beta scorer", "Gamma agent"]
    assert names(sort="-name") == ["Gamma agent", "beta scorer", "Alpha assistant"]
    assert names(business_unit_id=retail.id) == ["Alpha assistant", "beta scorer"]
    assert names(lifecycle_status="retired") == ["Gamma agent"]
    assert names(ai_type="generative_ai") == ["Alpha assistant"]
    assert names(risk_tier="high") == ["beta scorer"]
    assert names(vendor_id=vendor.id) == ["beta scorer"]
    assert names(owner_id=owner.id) == ["Alpha assistant", "beta scorer"]
    assert names(q="CREDIT") == ["beta scorer"]
    assert names(q="%") == []  # wildcards are taken literally
    r = client.get(f"{API}/ai-systems", headers=admin, params={"lifecycle_status": "alive"})
    assert r.status_code == 422 and "lifecycle_status" in errors_of(r)
    assert client.get(f"{API}/ai-systems", headers=admin, params={"sort": "risk"}).status_code == 422


def test_update_records_changes_and_replaces_vendors(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    a, b = make_vendor(db, name="A"), make_vendor(db, name="B")
    system = make_system(db, unit=unit, name="Doc Summariser", vendors=[a])
    admin = headers_for(db)
    r = client.patch(f"{API}/ai-systems/{system.id}", headers=admin,
                     json={"vendor_ids": [b.id], "lifecycle_status": "in_validation"})
    assert r.status_code == 200
    assert [v["name"] for v in r.json()["vendors"]] == ["B"] and r.json()["lifecycle_status"] == "in_validation"
    [event] = events(db, "ai_system")
    assert event.action == "update"
    assert f'"vendor_ids":[[{a.id}],[{b.id}]]' in event.diff and '"lifecycle_status"' in event.diff
    r = client.patch(f"{API}/ai-systems/{system.id}", headers=admin, json={"name": None})
    assert r.status_code == 422 and errors_of(r) == {"name": "Cannot be empty."}


def test_delete_is_refused_while_deployed_in_production(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit, name="Live one")
    model = make_model(db, unit=unit)
    link_system_model(db, system, model)
    live = make_deployment(db, system, model=model, environment="production", status="active",
                           endpoint="https://api.example/score")
    make_deployment(db, system, environment="staging", status="active")
    admin = headers_for(db)
    r = client.delete(f"{API}/ai-systems/{system.id}", headers=admin)
    assert r.status_code == 409
    assert r.json()["dependants"] == [{"id": live.id, "environment": "production", "status": "active",
                                       "endpoint": "https://api.example/score"}]
    assert count(db, AISystem) == 1
    db.rollback()
    db.get(Deployment, live.id).status = "decommissioned"
    db.commit()
    assert client.delete(f"{API}/ai-systems/{system.id}", headers=admin).status_code == 204
    assert (count(db, AISystem), count(db, Deployment), count(db, SystemModel)) == (0, 0, 0)
    assert [e.action for e in events(db, "ai_system")] == ["delete"]


# --- links -----------------------------------------------------------------------------------------------------------

def test_link_and_unlink_models_and_datasets(client: TestClient, db: Session) -> None:
    unit, other = make_unit(db), make_unit(db)
    system = make_system(db, unit=unit)
    model = make_model(db, unit=unit, name="gpt-x", version="2")
    hidden_model = make_model(db, unit=other)
    dataset = make_dataset(db, unit=unit, name="policies")
    hidden_dataset = make_dataset(db, unit=other)
    headers = headers_for(db, roles=[("practitioner", unit)])
    url = f"{API}/ai-systems/{system.id}"
    r = client.put(f"{url}/models/{model.id}", headers=headers, json={"role": "LLM"})
    assert r.status_code == 200 and r.json() == {"model": {"id": model.id, "name": "gpt-x", "version": "2"},
                                                 "role": "LLM"}
    assert client.put(f"{url}/models/{model.id}", headers=headers, json={"role": "LLM"}).status_code == 200
    assert client.put(f"{url}/models/{model.id}", headers=headers, json={"role": "Generator"}).status_code == 200
    assert client.put(f"{url}/models/{hidden_model.id}", headers=headers, json={}).status_code == 404
    r = client.put(f"{url}/datasets/{dataset.id}", headers=headers, json={"purpose": "retrieval corpus"})
    assert r.status_code == 200 and r.json()["dataset"] == {"id": dataset.id, "name": "policies"}
    assert client.put(f"{url}/datasets/{hidden_dataset.id}", headers=headers, json={}).status_code == 404
    detail = client.get(url, headers=headers).json()
    assert [(m["model"]["name"], m["role"]) for m in detail["model_links"]] == [("gpt-x", "Generator")]
    assert [(d["dataset"]["name"], d["purpose"]) for d in detail["dataset_links"]] == [("policies", "retrieval corpus")]
    assert [e.action for e in events(db, "ai_system")] == ["link_model", "update_model_link", "link_dataset"]
    assert client.delete(f"{url}/models/{model.id}", headers=headers).status_code == 204
    assert client.delete(f"{url}/models/{model.id}", headers=headers).status_code == 404
    assert client.delete(f"{url}/datasets/{dataset.id}", headers=headers).status_code == 204
    assert (count(db, SystemModel), count(db, SystemDataset)) == (0, 0)
    assert [e.action for e in events(db, "ai_system")][-2:] == ["unlink_model", "unlink_dataset"]


def test_unlinking_a_deployed_model_is_refused(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system, model = make_system(db, unit=unit), make_model(db, unit=unit)
    link_system_model(db, system, model)
    deployment = make_deployment(db, system, model=model, environment="dev", status="active")
    r = client.delete(f"{API}/ai-systems/{system.id}/models/{model.id}", headers=headers_for(db))
    assert r.status_code == 409 and r.json()["dependants"][0]["id"] == deployment.id
    assert count(db, SystemModel) == 1


# --- deployments ------------------------------------------------------------------------------------------------

def test_deployment_crud_and_validation(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit)
    linked, unlinked = make_model(db, unit=unit, version="3"), make_model(db, unit=unit)
    link_system_model(db, system, linked)
    headers = headers_for(db, roles=[("operations", unit)])
    url = f"{API}/ai-systems/{system.id}/deployments"
    r = client.post(url, headers=headers, json={"environment": "production", "model_id": unlinked.id})
    assert r.status_code == 422 and list(errors_of(r)) == ["model_id"]
    r = client.post(url, headers=headers, json={"environment": "staging", "deployed_at": "2025-03-02T00:00:00Z",
                                                "retired_at": "2025-03-01T00:00:00Z"})
    assert r.status_code == 422 and list(errors_of(r)) == ["retired_at"]
    for endpoint in ("ftp://host/x", "https://", "http://bad host/x", "https://h:99999/"):
        r = client.post(url, headers=headers, json={"environment": "dev", "endpoint": endpoint})
        assert r.status_code == 422, endpoint
    assert count(db, Deployment) == 0
    r = client.post(url, headers=headers, json={
        "environment": "production", "endpoint": "grpc://scorer.internal:8443", "model_id": linked.id,
        "status": "active", "deployed_at": "2025-03-01T09:00:00Z", "gateway_route": "fraud-v3"})
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["environment"], out["endpoint"], out["model"]["version"], out["status"], out["gateway_route"]) == (
        "production", "grpc://scorer.internal:8443", "3", "active", "fraud-v3")
    assert out["deployed_at"].startswith("2025-03-01T09:00:00")
    r = client.post(url, headers=headers, json={"environment": "dev", "endpoint": "nightly batch on the risk cluster"})
    assert r.status_code == 201
    dep_url = f"{url}/{out['id']}"
    r = client.patch(dep_url, headers=headers, json={"retired_at": "2025-02-01T00:00:00Z"})
    assert r.status_code == 422 and list(errors_of(r)) == ["retired_at"]
    r = client.patch(dep_url, headers=headers, json={"status": "decommissioned", "retired_at": "2025-06-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["status"] == "decommissioned"
    assert [d["id"] for d in client.get(url, headers=headers).json()] == [out["id"], out["id"] + 1]
    assert client.delete(dep_url, headers=headers).status_code == 204
    assert client.get(dep_url, headers=headers).status_code == 404
    assert [e.action for e in events(db, "deployment")] == ["create", "create", "update", "delete"]


# --- vendors ---------------------------------------------------------------------------------------------------

def test_vendor_crud_validation_and_permissions(client: TestClient, db: Session) -> None:
    procurement = headers_for(db, roles=[("procurement", None)])
    practitioner = headers_for(db, roles=[("practitioner", None)])
    r = client.post(f"{API}/vendors", headers=procurement, json={
        "name": "", "type": "reseller", "website": "javascript:alert(1)", "contact_email": "not-an-email"})
    assert r.status_code == 422
    assert count(db, Vendor) == 0
    body = {"name": "Acme AI", "type": "model_provider", "website": "https://acme.example",
            "contact_name": "Ann", "contact_email": "ann@acme.example", "notes": "LLM API"}
    assert client.post(f"{API}/vendors", headers=practitioner, json=body).status_code == 403
    r = client.post(f"{API}/vendors", headers=procurement, json=body)
    assert r.status_code == 201 and r.json()["status"] == "active"
    vendor_id = r.json()["id"]
    r = client.post(f"{API}/vendors", headers=procurement, json={**body, "name": "ACME ai"})
    assert r.status_code == 409 and list(errors_of(r)) == ["name"]
    r = client.patch(f"{API}/vendors/{vendor_id}", headers=procurement, json={"website": "ftp://acme.example"})
    assert r.status_code == 422
    r = client.patch(f"{API}/vendors/{vendor_id}", headers=procurement, json={"status": "suspended"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    listed = client.get(f"{API}/vendors", headers=practitioner, params={"status": "suspended"}).json()
    assert [v["name"] for v in listed["items"]] == ["Acme AI"]
    assert [e.action for e in events(db, "vendor")] == ["create", "update"]
    assert client.delete(f"{API}/vendors/{vendor_id}", headers=procurement).status_code == 204
    assert count(db, Vendor) == 0


def test_vendor_delete_is_refused_while_referenced(client: TestClient, db: Session) -> None:
    unit, other = make_unit(db), make_unit(db)
    vendor = make_vendor(db, name="Acme AI")
    model = make_model(db, unit=unit, name="acme-llm", version="1", vendor=vendor)
    dataset = make_dataset(db, unit=unit, name="acme-data", vendor=vendor)
    system = make_system(db, unit=unit, name="Assistant", vendors=[vendor])
    make_system(db, unit=other, name="Hidden", vendors=[vendor])
    r = client.delete(f"{API}/vendors/{vendor.id}", headers=headers_for(db))
    assert r.status_code == 409 and r.json()["hidden_dependants"] == 0
    hidden = r.json()["dependants"][1]["id"]
    assert r.json()["dependants"] == [
        {"type": "ai_system", "id": system.id, "name": "Assistant"},
        {"type": "ai_system", "id": hidden, "name": "Hidden"},
        {"type": "dataset", "id": dataset.id, "name": "acme-data"},
        {"type": "model", "id": model.id, "name": "acme-llm 1"}]
    # a buyer who reads only their own unit is told the other unit's system exists, not its name
    buyer = headers_for(db, roles=[("procurement", unit)])
    r = client.delete(f"{API}/vendors/{vendor.id}", headers=buyer)
    assert r.status_code == 409
    assert [d["name"] for d in r.json()["dependants"]] == ["Assistant", "acme-data", "acme-llm 1"]
    assert r.json()["hidden_dependants"] == 1 and "Hidden" not in r.json()["detail"]
    assert count(db, Vendor) == 1 and events(db, "vendor") == []


# --- search ----------------------------------------------------------------------------------------------------------

def test_search_finds_every_kind_by_name_within_scope(client: TestClient, db: Session) -> None:
    unit, other = make_unit(db), make_unit(db)
    system = make_system(db, unit=unit, name="Fraud Sentinel")
    make_system(db, unit=other, name="Fraud Elsewhere")
    model = make_model(db, unit=unit, name="fraud-gbm", version="2024.1")
    dataset = make_dataset(db, unit=unit, name="Card fraud labels")
    vendor = make_vendor(db, name="FraudTech Ltd")
    headers = headers_for(db, roles=[("practitioner", unit)])
    r = client.get(f"{API}/inventory/search", headers=headers, params={"q": "FRAUD"})
    assert r.status_code == 200
    assert r.json() == {"q": "FRAUD", "truncated": False, "items": [
        {"type": "ai_system", "id": system.id, "name": "Fraud Sentinel", "url": f"/ai-systems/{system.id}"},
        {"type": "model", "id": model.id, "name": "fraud-gbm 2024.1", "url": f"/models/{model.id}"},
        {"type": "dataset", "id": dataset.id, "name": "Card fraud labels", "url": f"/datasets/{dataset.id}"},
        {"type": "vendor", "id": vendor.id, "name": "FraudTech Ltd", "url": f"/vendors/{vendor.id}"}]}
    by_version = client.get(f"{API}/inventory/search", headers=headers, params={"q": "2024.1"}).json()
    assert [h["id"] for h in by_version["items"]] == [model.id]
    assert client.get(f"{API}/inventory/search", headers=headers, params={"q": ""}).status_code == 422
    assert client.get(f"{API}/inventory/search", headers=headers, params={"q": "   "}).status_code == 422


# --- pages -----------------------------------------------------------------------------------------------------------

@pytest.fixture
def browser(client: TestClient, db: Session, settings: Settings) -> TestClient:
    user = make_user(db, email="ada@example.com", full_name="Ada Admin", password=PASSWORD, settings=settings)
    login(client, user.email)
    return client


def test_system_pages_register_link_deploy_and_refuse(browser: TestClient, db: Session) -> None:
    unit = make_unit(db, name="Retail")
    vendor = make_vendor(db, name="Acme AI")
    model = make_model(db, unit=unit, name="scorer", version="7")
    page = browser.get("/ai-systems/new")
    assert page.status_code == 200 and "Register an AI system" in page.text
    token = csrf_from(page.text)
    bad = browser.post("/ai-systems", data={"csrf_token": token, "name": "", "business_unit_id": str(unit.id),
                                            "ai_type": "predictive_ml", "vendor_ids": [str(vendor.id)]})
    assert bad.status_code == 422 and 'id="e-name"' in bad.text and "checked" in bad.text
    assert count(db, AISystem) == 0
    r = browser.post("/ai-systems", data={"csrf_token": token, "name": "Credit Decisioning",
                                          "business_unit_id": str(unit.id), "ai_type": "predictive_ml",
                                          "lifecycle_status": "in_production", "eu_ai_act_role": "deployer",
                                          "vendor_ids": [str(vendor.id)]}, follow_redirects=False)
    assert r.status_code == 303
    system_url = r.headers["location"]
    r = browser.post(f"{system_url}/models", data={"csrf_token": token, "link_model_id": str(model.id),
                                                   "role": "primary"}, follow_redirects=False)
    assert r.status_code == 303
    r = browser.post(f"{system_url}/deployments", data={
        "csrf_token": token, "environment": "production", "endpoint": "ftp://nope", "model_id": str(model.id)})
    assert r.status_code == 422 and 'id="e-endpoint"' in r.text
    r = browser.post(f"{system_url}/deployments", data={
        "csrf_token": token, "environment": "production", "endpoint": "https://credit.example/score",
        "model_id": str(model.id), "status": "active", "deployed_at": "2025-01-15"}, follow_redirects=False)
    assert r.status_code == 303
    detail = browser.get(system_url)
    assert detail.status_code == 200
    for text in ("Credit Decisioning", "Acme AI", "scorer 7", "https://credit.example/score", "2025-01-15",
                 "/lineage", "/bom", "Not assessed yet"):
        assert text in detail.text, text
    db.rollback()
    deployment = db.scalar(select(Deployment))
    edit = browser.get(f"{system_url}/deployments/{deployment.id}/edit")
    assert edit.status_code == 200 and 'value="2025-01-15"' in edit.text
    r = browser.post(f"{system_url}/deployments/{deployment.id}", data={
        "csrf_token": token, "environment": "production", "endpoint": "https://credit.example/score",
        "model_id": str(model.id), "status": "active", "deployed_at": "2025-01-15", "retired_at": "2025-01-01"})
    assert r.status_code == 422 and 'id="e-retired_at"' in r.text
    assert browser.get(f"{system_url}/edit").status_code == 200
    refused = browser.post(f"{system_url}/delete", data={"csrf_token": token})
    assert refused.status_code == 409 and "active production deployment" in refused.text
    listing = browser.get("/ai-systems", params={"vendor_id": str(vendor.id)})
    assert listing.status_code == 200 and "Credit Decisioning" in listing.text
    found = browser.get("/inventory/search", params={"q": "credit"})
    assert found.status_code == 200 and f'href="{system_url}"' in found.text
    assert 'id="header-search-q"' in found.text


def test_vendor_pages(browser: TestClient, db: Session) -> None:
    unit = make_unit(db)
    page = browser.get("/vendors/new")
    token = csrf_from(page.text)
    bad = browser.post("/vendors", data={"csrf_token": token, "name": "Acme", "type": "isv",
                                         "website": "acme.example", "contact_email": "x@"})
    assert bad.status_code == 422 and 'id="e-website"' in bad.text and 'id="e-contact_email"' in bad.text
    r = browser.post("/vendors", data={"csrf_token": token, "name": "Acme", "type": "isv", "status": "active",
                                       "website": "https://acme.example"}, follow_redirects=False)
    assert r.status_code == 303
    vendor_url = r.headers["location"]
    db.rollback()
    vendor = db.scalar(select(Vendor))
    make_system(db, unit=unit, name="Uses Acme", vendors=[vendor])
    detail = browser.get(vendor_url)
    assert "Uses Acme" in detail.text
    refused = browser.post(f"{vendor_url}/delete", data={"csrf_token": token})
    assert refused.status_code == 409 and "Uses Acme" in refused.text
    assert browser.get("/vendors").status_code == 200
    edit = browser.get(f"{vendor_url}/edit")
    assert edit.status_code == 200 and 'value="https://acme.example"' in edit.text
    r = browser.post(vendor_url, data={"csrf_token": token, "name": "Acme Corp", "type": "isv", "status": "exited",
                                       "website": ""}, follow_redirects=False)
    assert r.status_code == 303
    db.rollback()
    assert (db.scalar(select(Vendor.name)), db.scalar(select(Vendor.status))) == ("Acme Corp", "exited")


def test_pages_hide_other_units_systems(client: TestClient, db: Session, settings: Settings) -> None:
    mine, theirs = make_unit(db), make_unit(db)
    make_system(db, unit=mine, name="Visible system")
    foreign = make_system(db, unit=theirs, name="Foreign system")
    user = make_user(db, roles=[("practitioner", mine)], password=PASSWORD, settings=settings)
    login(client, user.email)
    listing = client.get("/ai-systems")
    assert "Visible system" in listing.text and "Foreign system" not in listing.text
    assert client.get(f"/ai-systems/{foreign.id}").status_code == 404
    assert "Foreign system" not in client.get("/inventory/search", params={"q": "system"}).text


def test_use_case_page_lists_the_ai_systems_that_deliver_it(client: TestClient, db: Session,
                                                            settings: Settings) -> None:
    retail, insurance = make_unit(db, code="RET"), make_unit(db, code="INS")
    use_case = make_use_case(db, unit=retail, title="Fraud scoring")
    make_system(db, unit=retail, name="Fraud Sentinel", use_case=use_case, lifecycle_status="in_production")
    make_system(db, unit=insurance, name="Hidden Insurance System", use_case=use_case)
    make_system(db, unit=retail, name="Unrelated System")
    make_user(db, email="scoped@example.com", password=PASSWORD, settings=settings, business_unit=retail,
              roles=[("practitioner", retail)])
    login(client, "scoped@example.com")
    page = client.get(f"/use-cases/{use_case.key}").text
    assert "AI systems delivering it" in page and ">Fraud Sentinel</a>" in page
    assert "Hidden Insurance System" not in page and "Unrelated System" not in page
