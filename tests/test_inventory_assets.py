"""Models and datasets: registering with validation named by field (URIs, checksums, base-model cycles, the
data-protection rules), dataset lineage, deletes refused while something depends on the record, filters,
business-unit scoping, the audit trail and the pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.config import Settings
from aicoe.inventory.schemas_assets import uri_problem
from aicoe.models.audit import AuditEvent
from aicoe.models.inventory import Dataset, Model, ModelDataset
from aicoe.models.org import BusinessUnit
from tests.factories import PASSWORD, bearer, csrf_from, login, make_settings, make_token, make_unit, make_user
from tests.inventory_factories import (
    link_model_dataset,
    link_system_dataset,
    link_system_model,
    make_dataset,
    make_deployment,
    make_model,
    make_system,
    make_vendor,
)

SHA = "sha256:" + "0123456789abcdef" * 4


@pytest.fixture
def settings(any_db_url: str, tmp_path: Path) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (uniqueness, lineage queries and scoping are SQL)."""
    return make_settings(any_db_url, tmp_path)


def count(db: Session, model: type) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def events(db: Session, entity_type: str) -> list[tuple[str, str]]:
    db.rollback()
    return [(e.action, e.entity_id) for e in db.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq))]


def admin(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db)))


def model_body(unit: BusinessUnit, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"name": "fraud-detector", "version": "2.1", "kind": "in_house",
                               "business_unit_id": unit.id}
    body.update(overrides)
    return body


def fields_of(response) -> list[str]:  # noqa: ANN001
    return [e["field"] for e in response.json().get("errors", [])]


# --- models: create and validation ------------------------------------------------------------------------------

def test_registering_a_model_stores_every_field_and_audits(client: TestClient, db: Session) -> None:
    unit = make_unit(db, name="Risk")
    vendor = make_vendor(db, name="Acme AI")
    owner = make_user(db, roles=[], full_name="Olive Owner")
    base = make_model(db, unit=unit, name="fraud-base", version="1")
    h = admin(db)
    r = client.post("/api/v1/models", headers=h, json=model_body(
        unit, kind="fine_tuned", owner_id=owner.id, vendor_id=vendor.id, base_model_id=base.id, licence="apache-2.0",
        description="Scores card transactions.", intended_use="Flag transactions for review.",
        out_of_scope_uses="Credit decisions.", limitations="Trained on EU data only.",
        known_biases="Under-flags new merchants.", evaluation_summary="AUC 0.94 on the 2025 holdout.",
        artefact_uri="s3://models/fraud/2.1/model.pkl", checksum=SHA))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["name"], body["version"], body["kind"], body["licence"]) == (
        "fraud-detector", "2.1", "fine_tuned", "apache-2.0")
    assert body["business_unit"] == {"id": unit.id, "name": "Risk"}
    assert body["owner"] == {"id": owner.id, "full_name": "Olive Owner"}
    assert body["vendor"] == {"id": vendor.id, "name": "Acme AI"}
    assert body["base_model"] == {"id": base.id, "name": "fraud-base", "version": "1"}
    assert (body["artefact_uri"], body["checksum"], body["source"]) == ("s3://models/fraud/2.1/model.pkl", SHA,
                                                                        "manual")
    assert body["known_biases"] == "Under-flags new merchants."
    assert body["dataset_links"] == []
    assert events(db, "model") == [("create", str(body["id"]))]
    assert client.get(f"/api/v1/models/{body['id']}", headers=h).json()["evaluation_summary"] == (
        "AUC 0.94 on the 2025 holdout.")


@pytest.mark.parametrize("uri", [
    "s3://bucket/path/model.pkl", "gs://bucket/m", "https://huggingface.co/org/model", "file:///srv/models/m.onnx",
    "runs:/0123abcd/model", "models:/fraud/3", "models:/fraud@champion",
    "abfss://container@account.dfs.core.windows.net/models/m", "dbfs:/mnt/models/m", "hdfs://namenode:8020/m",
])
def test_well_formed_locations_are_accepted(uri: str) -> None:
    assert uri_problem(uri) is None


@pytest.mark.parametrize("uri", [
    "bucket/path", "s3:/bucket/path", "s3://", "ftp://host/file", "file://relative/path", "file:/srv/m",
    "runs:/", "models:", "https://", "https://host:99999/x", "s3://bucket/with space", "javascript:alert(1)",
    "C:\\models\\m.pkl",
])
def test_malformed_artefact_uris_are_refused_by_field_and_nothing_written(client: TestClient, db: Session,
                                                                          uri: str) -> None:
    unit = make_unit(db)
    r = client.post("/api/v1/models", headers=admin(db), json=model_body(unit, artefact_uri=uri))
    assert r.status_code == 422, r.text
    assert fields_of(r) == ["artefact_uri"]
    assert count(db, Model) == 0
    assert events(db, "model") == []


@pytest.mark.parametrize("checksum", [
    "sha256:" + "0" * 63, "sha256:" + "0" * 65, "sha256:" + "A" * 64, "SHA256:" + "a" * 64, "md5:" + "a" * 32,
    "a" * 64, "sha256:" + "g" * 64,
])
def test_malformed_checksums_are_refused(client: TestClient, db: Session, checksum: str) -> None:
    unit = make_unit(db)
    r = client.post("/api/v1/models", headers=admin(db), json=model_body(unit, checksum=checksum))
    assert r.status_code == 422, r.text
    assert fields_of(r) == ["checksum"]
    assert count(db, Model) == 0


def test_missing_references_and_duplicate_versions_are_named(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    h = admin(db)
    r = client.post("/api/v1/models", headers=h, json=model_body(unit, vendor_id=999, owner_id=998,
                                                                 base_model_id=997))
    assert r.status_code == 422
    assert sorted(fields_of(r)) == ["base_model_id", "owner_id", "vendor_id"]
    assert client.post("/api/v1/models", headers=h, json=model_body(unit)).status_code == 201
    r = client.post("/api/v1/models", headers=h, json=model_body(unit))
    assert r.status_code == 409
    assert fields_of(r) == ["version"]
    assert client.post("/api/v1/models", headers=h, json=model_body(unit, version="2.2")).status_code == 201
    assert count(db, Model) == 2


def test_a_cycle_through_three_models_is_refused_naming_the_chain(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    a = make_model(db, unit=unit, name="alpha", version="1")
    b = make_model(db, unit=unit, name="beta", version="1", base_model=a)
    c = make_model(db, unit=unit, name="gamma", version="2", base_model=b)
    h = admin(db)
    r = client.patch(f"/api/v1/models/{a.id}", headers=h, json={"base_model_id": c.id, "licence": "mit"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "base_model_id", "message":
                                   "A model cannot derive from itself: alpha 1 → gamma 2 → beta 1 → alpha 1."}]
    r = client.patch(f"/api/v1/models/{b.id}", headers=h, json={"base_model_id": b.id})
    assert r.json()["errors"][0]["message"] == "A model cannot derive from itself: beta 1 → beta 1."
    db.rollback()
    stored = db.get(Model, a.id)
    assert (stored.base_model_id, stored.licence) == (None, "")
    assert events(db, "model") == []
    # re-basing that makes no cycle is fine
    d = make_model(db, unit=unit, name="delta", version="1")
    r = client.patch(f"/api/v1/models/{a.id}", headers=h, json={"base_model_id": d.id})
    assert r.status_code == 200 and r.json()["base_model"]["name"] == "delta"
    assert events(db, "model") == [("update", str(a.id))]


def test_update_refuses_empty_required_fields(client: TestClient, db: Session) -> None:
    model = make_model(db, unit=make_unit(db))
    r = client.patch(f"/api/v1/models/{model.id}", headers=admin(db), json={"name": None, "kind": None})
    assert r.status_code == 422
    assert sorted(fields_of(r)) == ["kind", "name"]


# --- lineage ----------------------------------------------------------------------------------------------------

def test_dataset_lineage_is_linked_idempotently_and_unlinked(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    model = make_model(db, unit=unit)
    ds = make_dataset(db, unit=unit, name="transactions-2025")
    h = admin(db)
    url = f"/api/v1/models/{model.id}/datasets/{ds.id}"
    r = client.put(url, params={"purpose": "train"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["dataset_links"] == [{"dataset": {"id": ds.id, "name": "transactions-2025"}, "purpose": "train"}]
    assert client.put(url, params={"purpose": "train"}, headers=h).status_code == 200
    assert client.put(url, params={"purpose": "evaluate"}, headers=h).status_code == 200
    assert count(db, ModelDataset) == 2
    assert events(db, "model") == [("link_dataset", str(model.id))] * 2
    bad = client.put(url, params={"purpose": "sell"}, headers=h)
    assert bad.status_code == 422 and fields_of(bad) == ["purpose"]
    r = client.delete(url, params={"purpose": "train"}, headers=h)
    assert [link["purpose"] for link in r.json()["dataset_links"]] == ["evaluate"]
    assert client.delete(url, params={"purpose": "train"}, headers=h).status_code == 404
    assert client.delete(url, headers=h).json()["dataset_links"] == []
    assert client.put(f"/api/v1/models/{model.id}/datasets/9999", params={"purpose": "train"},
                      headers=h).status_code == 404


# --- deletes ----------------------------------------------------------------------------------------------------

def test_deleting_a_model_in_use_is_refused_listing_its_dependants(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    model = make_model(db, unit=unit, name="scorer", version="1")
    derived = make_model(db, unit=unit, name="scorer-ft", version="1", base_model=model)
    system = make_system(db, unit=unit, name="Card fraud screening")
    link_system_model(db, system, model)
    deployment = make_deployment(db, system, model=model, environment="production")
    h = admin(db)
    r = client.delete(f"/api/v1/models/{model.id}", headers=h)
    assert r.status_code == 409
    body = r.json()
    assert body["dependants"] == [
        {"type": "ai_system", "id": system.id, "name": "Card fraud screening"},
        {"type": "deployment", "id": deployment.id, "name": "Card fraud screening (production)"},
        {"type": "model", "id": derived.id, "name": "scorer-ft 1"}]
    assert body["hidden_dependants"] == 0
    assert "retire it instead" in body["detail"]
    assert "ai system 'Card fraud screening'" in body["detail"]
    assert count(db, Model) == 2
    # a model without dependants goes, with its own dataset lineage
    link_model_dataset(db, derived, make_dataset(db, unit=unit, name="labels"), "fine_tune")
    derived_id = derived.id
    assert client.delete(f"/api/v1/models/{derived_id}", headers=h).status_code == 204
    assert count(db, ModelDataset) == 0
    assert events(db, "model") == [("delete", str(derived_id))]


def test_deleting_a_dataset_in_use_is_refused_and_hidden_dependants_are_only_counted(
        client: TestClient, db: Session) -> None:
    mine, other = make_unit(db, name="Mine"), make_unit(db, name="Other")
    ds = make_dataset(db, unit=mine, name="customers")
    model = make_model(db, unit=mine, name="churn", version="3")
    link_model_dataset(db, model, ds, "train")
    link_model_dataset(db, model, ds, "evaluate")
    link_system_dataset(db, make_system(db, unit=mine, name="Churn assistant"), ds)
    link_system_dataset(db, make_system(db, unit=other, name="Secret system"), ds)
    scoped = make_user(db, roles=[("practitioner", mine)], business_unit=mine)
    r = client.delete(f"/api/v1/datasets/{ds.id}", headers=bearer(make_token(db, scoped)))
    assert r.status_code == 409
    body = r.json()
    assert [(d["type"], d["name"]) for d in body["dependants"]] == [("model", "churn 3"),
                                                                   ("ai_system", "Churn assistant")]
    assert body["hidden_dependants"] == 1
    assert "Secret system" not in r.text
    assert "1 more outside your business units" in body["detail"]
    assert count(db, Dataset) == 1 and events(db, "dataset") == []


# --- datasets ---------------------------------------------------------------------------------------------------

def dataset_body(unit: BusinessUnit, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"name": "claims-2025", "business_unit_id": unit.id}
    body.update(overrides)
    return body


def test_registering_a_dataset_with_every_field(client: TestClient, db: Session) -> None:
    unit = make_unit(db, name="Claims")
    vendor = make_vendor(db, name="DataCo", type="data_provider")
    owner, steward = make_user(db, roles=[], full_name="Oona"), make_user(db, roles=[], full_name="Stan")
    h = admin(db)
    r = client.post("/api/v1/datasets", headers=h, json=dataset_body(
        unit, description="Claims with adjuster notes.", owner_id=owner.id, steward_id=steward.id, source="vendor",
        vendor_id=vendor.id, location_uri="abfss://raw@lake.dfs.core.windows.net/claims/2025", format="parquet",
        size_bytes=1_500_000_000, row_count=0, classification="restricted", personal_data=True,
        special_category_data=True, legal_basis="legal_obligation", consent_status="not required",
        retention_period_days=3650, deletion_date="2035-12-31", residency="EU (West Europe)", licence="proprietary"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["owner"] == {"id": owner.id, "full_name": "Oona"}
    assert body["steward"] == {"id": steward.id, "full_name": "Stan"}
    assert body["vendor"] == {"id": vendor.id, "name": "DataCo"}
    assert (body["size_bytes"], body["row_count"], body["retention_period_days"], body["deletion_date"]) == (
        1_500_000_000, 0, 3650, "2035-12-31")
    assert (body["personal_data"], body["special_category_data"], body["legal_basis"]) == (
        True, True, "legal_obligation")
    assert events(db, "dataset") == [("create", str(body["id"]))]
    r = client.post("/api/v1/datasets", headers=h, json=dataset_body(unit, name="CLAIMS-2025"))
    assert r.status_code == 409 and fields_of(r) == ["name"]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"personal_data": True}, "legal_basis"),
    ({"special_category_data": True}, "special_category_data"),
    ({"source": "vendor"}, "vendor_id"),
    ({"size_bytes": -1}, "size_bytes"),
    ({"row_count": -5}, "row_count"),
    ({"retention_period_days": -1}, "retention_period_days"),
    ({"location_uri": "not a uri"}, "location_uri"),
    ({"classification": "secret"}, "classification"),
    ({"legal_basis": "because"}, "legal_basis"),
])
def test_bad_dataset_input_is_refused_by_field(client: TestClient, db: Session, overrides: dict[str, object],
                                               field: str) -> None:
    unit = make_unit(db)
    r = client.post("/api/v1/datasets", headers=admin(db), json=dataset_body(unit, **overrides))
    assert r.status_code == 422, r.text
    assert fields_of(r) == [field]
    assert count(db, Dataset) == 0


def test_a_partial_update_is_checked_against_the_stored_record(client: TestClient, db: Session) -> None:
    ds = make_dataset(db, unit=make_unit(db), name="hr-records")
    h = admin(db)
    r = client.patch(f"/api/v1/datasets/{ds.id}", headers=h, json={"personal_data": True, "format": "csv"})
    assert r.status_code == 422 and fields_of(r) == ["legal_basis"]
    db.rollback()
    assert (db.get(Dataset, ds.id).personal_data, db.get(Dataset, ds.id).format) == (False, "")
    r = client.patch(f"/api/v1/datasets/{ds.id}", headers=h, json={"personal_data": True, "legal_basis": "contract"})
    assert r.status_code == 200
    r = client.patch(f"/api/v1/datasets/{ds.id}", headers=h, json={"legal_basis": None})
    assert r.status_code == 422 and fields_of(r) == ["legal_basis"]
    assert events(db, "dataset") == [("update", str(ds.id))]


# --- filters, scoping, permissions -------------------------------------------------------------------------------

def test_model_filters_and_sorts(client: TestClient, db: Session) -> None:
    unit, other = make_unit(db), make_unit(db)
    vendor = make_vendor(db)
    owner = make_user(db, roles=[])
    make_model(db, unit=unit, name="Bravo", kind="third_party_api", vendor=vendor)
    make_model(db, unit=other, name="alpha", owner=owner, description="a credit model")
    make_model(db, unit=unit, name="charlie", version="2")
    h = admin(db)

    def names(**params: object) -> list[str]:
        r = client.get("/api/v1/models", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [m["name"] for m in r.json()["items"]]

    assert names() == ["alpha", "Bravo", "charlie"]
    assert names(sort="-name") == ["charlie", "Bravo", "alpha"]
    assert names(business_unit_id=unit.id) == ["Bravo", "charlie"]
    assert names(kind="third_party_api") == ["Bravo"]
    assert names(vendor_id=vendor.id) == ["Bravo"]
    assert names(owner_id=owner.id) == ["alpha"]
    assert names(q="CREDIT") == ["alpha"]
    assert client.get("/api/v1/models", params={"sort": "risk"}, headers=h).status_code == 422
    assert client.get("/api/v1/models", params={"kind": "magic"}, headers=h).status_code == 422


def test_records_outside_the_callers_units_do_not_exist_for_them(client: TestClient, db: Session) -> None:
    mine, other = make_unit(db), make_unit(db)
    visible = make_model(db, unit=mine, name="mine")
    hidden = make_model(db, unit=other, name="theirs")
    hidden_ds = make_dataset(db, unit=other)
    h = bearer(make_token(db, make_user(db, roles=[("practitioner", mine)])))
    assert [m["name"] for m in client.get("/api/v1/models", headers=h).json()["items"]] == ["mine"]
    assert client.get(f"/api/v1/models/{hidden.id}", headers=h).status_code == 404
    assert client.get(f"/api/v1/models/{hidden.id}/card.md", headers=h).status_code == 404
    assert client.get(f"/api/v1/datasets/{hidden_ds.id}", headers=h).status_code == 404
    assert client.patch(f"/api/v1/models/{hidden.id}", headers=h, json={"licence": "x"}).status_code == 404
    assert client.delete(f"/api/v1/datasets/{hidden_ds.id}", headers=h).status_code == 404
    # linking a dataset the caller cannot see, or deriving from a model they cannot see, is refused
    assert client.put(f"/api/v1/models/{visible.id}/datasets/{hidden_ds.id}", params={"purpose": "train"},
                      headers=h).status_code == 404
    r = client.patch(f"/api/v1/models/{visible.id}", headers=h, json={"base_model_id": hidden.id})
    assert r.status_code == 422 and fields_of(r) == ["base_model_id"]
    # registering in another unit is forbidden, and moving a model there too
    assert client.post("/api/v1/models", headers=h, json=model_body(other)).status_code == 403
    assert client.patch(f"/api/v1/models/{visible.id}", headers=h,
                        json={"business_unit_id": other.id}).status_code == 403
    assert count(db, Model) == 2


def test_readers_cannot_write(client: TestClient, db: Session) -> None:
    unit = make_unit(db)
    model = make_model(db, unit=unit)
    h = bearer(make_token(db, make_user(db, roles=[("viewer", None)])))
    assert client.get(f"/api/v1/models/{model.id}", headers=h).status_code == 200
    assert client.post("/api/v1/models", headers=h, json=model_body(unit)).status_code == 403
    assert client.delete(f"/api/v1/models/{model.id}", headers=h).status_code == 403
    assert client.post("/api/v1/datasets", headers=h, json=dataset_body(unit)).status_code == 403


# --- pages ------------------------------------------------------------------------------------------------------

def test_model_and_dataset_pages(client: TestClient, db: Session, settings: Settings) -> None:
    unit = make_unit(db, name="Retail")
    user = make_user(db, email="pat@example.com", password=PASSWORD, settings=settings, business_unit=unit,
                     roles=[("practitioner", unit)])
    base = make_model(db, unit=unit, name="base-llm", version="7b")
    ds = make_dataset(db, unit=unit, name="support-tickets")
    login(client, user.email)
    page = client.get("/models/new")
    assert page.status_code == 200
    form = {"csrf_token": csrf_from(page.text), "name": "assistant", "version": "1", "kind": "fine_tuned",
            "business_unit_id": str(unit.id), "base_model_id": str(base.id), "checksum": "sha256:XYZ"}
    r = client.post("/models", data=form)
    assert r.status_code == 422
    assert "sha256: followed by 64" in r.text or "64 lowercase hexadecimal" in r.text
    assert count(db, Model) == 1
    r = client.post("/models", data={**form, "checksum": SHA}, follow_redirects=False)
    assert r.status_code == 303, r.text
    model_url = r.headers["location"]
    detail = client.get(model_url)
    assert "base-llm 7b" in detail.text and "/card.md" in detail.text
    r = client.post(f"{model_url}/datasets", data={"csrf_token": csrf_from(detail.text), "dataset_id": str(ds.id),
                                                  "purpose": "fine_tune"}, follow_redirects=False)
    assert r.status_code == 303
    card = client.get(f"{model_url}/card")
    assert card.status_code == 200 and "support-tickets" in card.text and "Fine-tuning data" in card.text
    assert client.get(f"{model_url}/edit").status_code == 200
    assert "assistant" in client.get("/models?kind=fine_tuned").text
    # the dataset pages; deleting a dataset still in use shows the refusal
    assert "support-tickets" in client.get("/datasets").text
    dpage = client.get(f"/datasets/{ds.id}")
    assert "assistant 1" in dpage.text
    r = client.post(f"/datasets/{ds.id}/delete", data={"csrf_token": csrf_from(dpage.text)})
    assert r.status_code == 409 and "still used by model" in r.text
    new = client.get("/datasets/new")
    r = client.post("/datasets", data={"csrf_token": csrf_from(new.text), "name": "hr", "business_unit_id":
                                       str(unit.id), "source": "internal", "classification": "internal",
                                       "personal_data": "1"})
    assert r.status_code == 422 and "needs a legal basis" in r.text
    assert count(db, Dataset) == 1
    assert client.get(f"/datasets/{ds.id}/edit").status_code == 200
