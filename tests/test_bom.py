"""The AI bill of materials: CycloneDX 1.6 JSON valid against the schema, with exactly the expected components,
suppliers and dependency refs, for one system, the whole inventory and a reader scoped to one unit."""

from __future__ import annotations

import json
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.inventory import bom
from aicoe.models.inventory import Model
from tests.factories import api_client_for, make_user
from tests.test_lineage import World, build

VALIDATOR = JsonStrictValidator(SchemaVersion.V1_6)


def checked(document: str) -> dict[str, Any]:
    error = VALIDATOR.validate_str(document)
    assert error is None, error
    return json.loads(document)


def refs(doc: dict[str, Any]) -> dict[str, str]:
    return {c["bom-ref"]: c["type"] for c in doc["components"]}


def deps(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}


def props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_the_validator_refuses_a_broken_document() -> None:
    broken = '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"type": "model", "name": "x"}]}'
    assert VALIDATOR.validate_str(broken) is not None


def test_system_bom_is_schema_valid_with_exact_refs(db: Session) -> None:
    w = build(db)
    i = w.ids
    f = db.get(Model, i["f"])
    f.licence, f.checksum, f.artefact_uri = "Apache-2.0", "sha256:" + "ab" * 32, "https://models.example/base-llm"
    f.intended_use = "General text generation"
    db.commit()
    doc = checked(bom.to_json(bom.system_bom(db, None, i["s1"])))
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    root = doc["metadata"]["component"]
    assert (root["bom-ref"], root["type"], root["name"]) == (f"system-{i['s1']}", "application", "Claims assistant")
    assert props(root)["aicoe:lifecycle_status"] == "in_production"
    assert refs(doc) == {f"model-{i['f']}": "machine-learning-model", f"model-{i['a']}": "machine-learning-model",
                         f"model-{i['b']}": "machine-learning-model", f"model-{i['c']}": "machine-learning-model",
                         f"dataset-{i['d1']}": "data", f"dataset-{i['d2']}": "data"}
    assert deps(doc) == {
        f"system-{i['s1']}": [f"model-{i['c']}"],
        f"model-{i['c']}": [f"model-{i['b']}"], f"model-{i['b']}": [f"model-{i['a']}"],
        f"model-{i['a']}": sorted([f"dataset-{i['d1']}", f"dataset-{i['d2']}", f"model-{i['f']}"]),
        f"model-{i['f']}": [], f"dataset-{i['d1']}": [], f"dataset-{i['d2']}": [],
    }
    by_ref = {c["bom-ref"]: c for c in doc["components"]}
    base = by_ref[f"model-{i['f']}"]
    assert base["supplier"] == {"name": "Acme AI"} and base["manufacturer"] == {"name": "Acme AI"}
    assert base["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert base["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert base["externalReferences"] == [{"type": "distribution", "url": "https://models.example/base-llm"}]
    assert props(base)["aicoe:model:intended_use"] == "General text generation"
    assert props(by_ref[f"model-{i['a']}"]) == {
        "aicoe:business_unit": "RET", "aicoe:model:kind": "Fine-tuned", "aicoe:model:base_model": f"model-{i['f']}",
        "aicoe:dataset:fine_tune": f"dataset-{i['d1']}", "aicoe:dataset:evaluate": f"dataset-{i['d2']}"}
    assert by_ref[f"dataset-{i['d2']}"]["supplier"] == {"name": "Databrokers"}
    assert [t["name"] for t in doc["metadata"]["tools"]["components"]] == ["aicoe"]


def test_inventory_bom_lists_everything_once(db: Session) -> None:
    i = build(db).ids
    doc = checked(bom.to_json(bom.inventory_bom(db, None)))
    assert doc["metadata"]["component"]["bom-ref"] == "inventory"
    types = refs(doc)
    assert sorted(r for r, t in types.items() if t == "application") == sorted(
        f"system-{i[k]}" for k in ("s1", "s2", "s3", "s4", "s5"))
    assert len([t for t in types.values() if t == "machine-learning-model"]) == 5
    assert len([t for t in types.values() if t == "data"]) == 3
    d = deps(doc)
    assert d["inventory"] == sorted(f"system-{i[k]}" for k in ("s1", "s2", "s3", "s4", "s5"))
    assert d[f"system-{i['s2']}"] == [f"dataset-{i['d1']}", f"model-{i['a']}"]
    assert d[f"system-{i['s4']}"] == [f"model-{i['e']}"] and d[f"model-{i['e']}"] == [f"dataset-{i['d3']}"]
    assert props(doc["components"][[c["bom-ref"] for c in doc["components"]].index(f"system-{i['s4']}")])[
        "aicoe:vendor"] == "Acme AI"


def test_scoped_inventory_bom_holds_the_unit_and_what_it_is_built_on(db: Session) -> None:
    w = build(db)
    i = w.ids
    insurance = Principal.resolve(db, make_user(db, roles=[("viewer", w.u2)]))
    doc = checked(bom.to_json(bom.inventory_bom(db, insurance)))
    assert set(refs(doc)) == {f"system-{i['s3']}", f"model-{i['b']}", f"model-{i['a']}", f"model-{i['f']}",
                              f"dataset-{i['d1']}", f"dataset-{i['d2']}", f"dataset-{i['d3']}"}
    assert deps(doc)["inventory"] == [f"system-{i['s3']}"]


def test_bom_api_serves_a_download(client: TestClient, db: Session) -> None:
    w: World = build(db)
    i = w.ids
    admin = api_client_for(db, client)
    r = client.get(f"/api/v1/ai-systems/{i['s1']}/bom", headers=admin)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.cyclonedx+json"
    assert r.headers["content-disposition"] == 'attachment; filename="claims-assistant.cdx.json"'
    assert len(checked(r.text)["components"]) == 6
    r = client.get("/api/v1/inventory/bom", headers=admin)
    assert r.status_code == 200 and r.headers["content-disposition"] == 'attachment; filename="ai-inventory.cdx.json"'
    assert len(checked(r.text)["components"]) == 13
    retail = api_client_for(db, client, roles=[("viewer", w.u1)])
    assert client.get(f"/api/v1/ai-systems/{i['s3']}/bom", headers=retail).status_code == 404
    assert client.get("/api/v1/inventory/bom").status_code == 401
