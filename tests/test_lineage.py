"""Lineage and impact: exact answers on a small hand-built graph (transitive through derived models, status
filter, business-unit scoping), the lineage JSON, the SVG drawing and the UI pages."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from aicoe.auth.principal import Principal
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.inventory import graph_svg, lineage
from aicoe.models.org import BusinessUnit
from tests.factories import PASSWORD, api_client_for, login, make_unit, make_user
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

SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class World:
    u1: BusinessUnit
    u2: BusinessUnit
    ids: dict[str, int]


def build(db: Session) -> World:
    """Vendor V supplies foundation model F; A is fine-tuned from F on D1 (evaluated on D2, from vendor W);
    B (other unit) derives from A and C from B. E is trained on D3 (other unit)."""
    u1, u2 = make_unit(db, code="RET", name="Retail"), make_unit(db, code="INS", name="Insurance")
    v = make_vendor(db, name="Acme AI")
    w = make_vendor(db, name="Databrokers", type="data_provider")
    d1 = make_dataset(db, unit=u1, name="claims-history")
    d2 = make_dataset(db, unit=u1, name="eval-set", source="vendor", vendor=w)
    d3 = make_dataset(db, unit=u2, name="partner-data")
    f = make_model(db, unit=u1, name="base-llm", kind="open_weights", vendor=v)
    a = make_model(db, unit=u1, name="claims-ft", kind="fine_tuned", base_model=f)
    b = make_model(db, unit=u2, name="claims-ft-u2", version="2", kind="fine_tuned", base_model=a)
    c = make_model(db, unit=u1, name="claims-ft-u1", version="3", kind="fine_tuned", base_model=b)
    e = make_model(db, unit=u1, name="fraud")
    link_model_dataset(db, a, d1, "fine_tune")
    link_model_dataset(db, a, d2, "evaluate")
    link_model_dataset(db, e, d3, "train")
    s1 = make_system(db, unit=u1, name="Claims assistant", lifecycle_status="in_production")
    s2 = make_system(db, unit=u1, name="Claims triage", lifecycle_status="in_development")
    s3 = make_system(db, unit=u2, name="Policy helper", lifecycle_status="in_production")
    s4 = make_system(db, unit=u1, name="Fraud screen", lifecycle_status="in_production", vendors=[v])
    s5 = make_system(db, unit=u1, name="Old search", lifecycle_status="retired")
    link_system_model(db, s1, c, "answers")
    link_system_model(db, s2, a)
    link_system_model(db, s3, b)
    link_system_model(db, s4, e)
    link_system_dataset(db, s2, d1, "retrieval corpus")
    link_system_dataset(db, s5, d1)
    p1 = make_deployment(db, s1, environment="production", endpoint="https://claims.example/api")
    p2 = make_deployment(db, s1, environment="staging", status="planned")
    p3 = make_deployment(db, s3, environment="production")
    p4 = make_deployment(db, s4, environment="production")
    ids = {k: o.id for k, o in dict(u1=u1, u2=u2, v=v, w=w, d1=d1, d2=d2, d3=d3, f=f, a=a, b=b, c=c, e=e, s1=s1,
                                    s2=s2, s3=s3, s4=s4, s5=s5, p1=p1, p2=p2, p3=p3, p4=p4).items()}
    return World(u1, u2, ids)


def scoped(db: Session, unit: BusinessUnit) -> Principal:
    return Principal.resolve(db, make_user(db, roles=[("practitioner", unit)]))


def systems_of(impact: lineage.Impact) -> list[tuple[int, bool, list[int]]]:
    return [(s.id, s.direct, s.via_model_ids) for s in impact.systems]


@pytest.fixture
def world(db: Session) -> World:
    return build(db)


def test_dataset_impact_follows_derived_models_transitively(db: Session, world: World) -> None:
    i = world.ids
    impact = lineage.dataset_impact(db, None, i["d1"])
    assert (impact.subject_kind, impact.subject_id, impact.subject_name) == ("dataset", i["d1"], "claims-history")
    assert [(m.id, m.direct) for m in impact.models] == [(i["a"], True), (i["c"], False), (i["b"], False)]
    # ordered by name: Claims assistant, Claims triage, Old search, Policy helper
    assert systems_of(impact) == [(i["s1"], False, [i["c"]]), (i["s2"], True, [i["a"]]), (i["s5"], True, []),
                                  (i["s3"], False, [i["b"]])]
    assert [d.id for d in impact.deployments] == [i["p1"], i["p2"], i["p3"]]


def test_status_filter_keeps_production_systems_only(db: Session, world: World) -> None:
    i = world.ids
    impact = lineage.dataset_impact(db, None, i["d1"], status="in_production")
    assert systems_of(impact) == [(i["s1"], False, [i["c"]]), (i["s3"], False, [i["b"]])]
    assert [d.id for d in impact.deployments] == [i["p1"], i["p2"], i["p3"]]
    assert lineage.dataset_impact(db, None, i["d3"], status="retired").systems == []
    with pytest.raises(lineage.ValidationFailed):
        lineage.dataset_impact(db, None, i["d1"], status="live")


def test_impact_is_scoped_to_the_callers_units(db: Session, world: World) -> None:
    i = world.ids
    retail = scoped(db, world.u1)
    impact = lineage.dataset_impact(db, retail, i["d1"])
    # B (Insurance) still carries the walk to C, but is not listed; nor is the Insurance system S3
    assert [m.id for m in impact.models] == [i["a"], i["c"]]
    assert systems_of(impact) == [(i["s1"], False, [i["c"]]), (i["s2"], True, [i["a"]]), (i["s5"], True, [])]
    with pytest.raises(lineage.NotFound):
        lineage.dataset_impact(db, retail, i["d3"])
    with pytest.raises(lineage.NotFound):
        lineage.model_impact(db, retail, i["b"])


def test_vendor_impact_covers_its_models_datasets_and_named_systems(db: Session, world: World) -> None:
    i = world.ids
    acme = lineage.vendor_impact(db, None, i["v"])
    assert [(m.id, m.direct) for m in acme.models] == [(i["f"], True), (i["a"], False), (i["c"], False),
                                                       (i["b"], False)]
    assert systems_of(acme) == [(i["s1"], False, [i["c"]]), (i["s2"], False, [i["a"]]), (i["s4"], True, []),
                                (i["s3"], False, [i["b"]])]
    assert [d.id for d in acme.deployments] == [i["p1"], i["p2"], i["p4"], i["p3"]]
    brokers = lineage.vendor_impact(db, None, i["w"], status="in_production")
    assert [(m.id, m.direct) for m in brokers.models] == [(i["a"], True), (i["c"], False), (i["b"], False)]
    assert systems_of(brokers) == [(i["s1"], False, [i["c"]]), (i["s3"], False, [i["b"]])]
    with pytest.raises(lineage.NotFound):
        lineage.vendor_impact(db, None, 9999)


def test_model_impact_lists_what_derives_from_it(db: Session, world: World) -> None:
    i = world.ids
    impact = lineage.model_impact(db, None, i["a"])
    assert [(m.id, m.direct) for m in impact.models] == [(i["c"], False), (i["b"], True)]
    assert systems_of(impact) == [(i["s1"], False, [i["c"]]), (i["s2"], True, []), (i["s3"], False, [i["b"]])]
    assert lineage.model_impact(db, None, i["c"]).models == []


def test_system_lineage_nodes_and_edges(db: Session, world: World) -> None:
    i = world.ids
    graph = lineage.system_lineage(db, None, i["s1"])
    assert [(n.id, n.label, n.detail, n.in_scope) for n in graph.nodes] == [
        (f"vendor:{i['v']}", "Acme AI", "Model provider", True),
        (f"vendor:{i['w']}", "Databrokers", "Data provider", True),
        (f"dataset:{i['d1']}", "claims-history", "internal", True),
        (f"dataset:{i['d2']}", "eval-set", "internal", True),
        (f"model:{i['f']}", "base-llm 1", "Open-weights foundation model", True),
        (f"model:{i['a']}", "claims-ft 1", "Fine-tuned", True),
        (f"model:{i['c']}", "claims-ft-u1 3", "Fine-tuned", True),
        (f"model:{i['b']}", "claims-ft-u2 2", "Fine-tuned", True),
        (f"system:{i['s1']}", "Claims assistant", "In production", True),
        (f"deployment:{i['p1']}", "Production", "Active", True),
        (f"deployment:{i['p2']}", "Staging", "Planned", True),
    ]
    assert [(e.source, e.target, e.kind, e.label) for e in graph.edges] == [
        (f"vendor:{i['v']}", f"model:{i['f']}", "vendor_model", "provides"),
        (f"vendor:{i['w']}", f"dataset:{i['d2']}", "vendor_dataset", "provides"),
        (f"dataset:{i['d1']}", f"model:{i['a']}", "dataset_model", "Fine-tuning"),
        (f"dataset:{i['d2']}", f"model:{i['a']}", "dataset_model", "Evaluation"),
        (f"model:{i['f']}", f"model:{i['a']}", "derived_from", "derived from"),
        (f"model:{i['a']}", f"model:{i['b']}", "derived_from", "derived from"),
        (f"model:{i['c']}", f"system:{i['s1']}", "model_system", "answers"),
        (f"model:{i['b']}", f"model:{i['c']}", "derived_from", "derived from"),
        (f"system:{i['s1']}", f"deployment:{i['p1']}", "system_deployment", "deploys"),
        (f"system:{i['s1']}", f"deployment:{i['p2']}", "system_deployment", "deploys"),
    ]
    # a reader in Retail sees the whole upstream, with the Insurance model flagged
    flags = {n.id: n.in_scope for n in lineage.system_lineage(db, scoped(db, world.u1), i["s1"]).nodes}
    assert [k for k, v in flags.items() if not v] == [f"model:{i['b']}"]


def test_lineage_of_a_system_with_direct_datasets_and_a_named_vendor(db: Session, world: World) -> None:
    i = world.ids
    graph = lineage.system_lineage(db, None, i["s2"])
    assert [e.label for e in graph.edges if e.target == f"system:{i['s2']}"] == ["retrieval corpus", "used by"]
    graph4 = lineage.system_lineage(db, None, i["s4"])
    assert [(e.source, e.target, e.label) for e in graph4.edges if e.kind.startswith("vendor")] == [
        (f"vendor:{i['v']}", f"system:{i['s4']}", "supplies")]
    assert f"dataset:{i['d3']}" in {n.id for n in graph4.nodes}


def test_api_lineage_and_impact(client: TestClient, db: Session, world: World) -> None:
    i = world.ids
    admin = api_client_for(db, client)
    r = client.get(f"/api/v1/ai-systems/{i['s1']}/lineage", headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert body["system_id"] == i["s1"] and len(body["nodes"]) == 11 and len(body["edges"]) == 10
    assert body["nodes"][0] == {"id": f"vendor:{i['v']}", "kind": "vendor", "ref_id": i["v"], "label": "Acme AI",
                                "detail": "Model provider", "in_scope": True}
    r = client.get(f"/api/v1/inventory/impact/dataset/{i['d1']}", params={"status": "in_production"}, headers=admin)
    assert r.status_code == 200
    assert [s["name"] for s in r.json()["systems"]] == ["Claims assistant", "Policy helper"]
    assert r.json()["systems"][0] == {"id": i["s1"], "name": "Claims assistant", "lifecycle_status": "in_production",
                                      "business_unit_id": i["u1"], "direct": False, "via_model_ids": [i["c"]]}
    r = client.get(f"/api/v1/inventory/impact/vendor/{i['v']}", headers=admin)
    assert [d["id"] for d in r.json()["deployments"]] == [i["p1"], i["p2"], i["p4"], i["p3"]]
    r = client.get(f"/api/v1/inventory/impact/model/{i['a']}", headers=admin)
    assert [m["name"] for m in r.json()["models"]] == ["claims-ft-u1", "claims-ft-u2"]
    assert client.get(f"/api/v1/inventory/impact/dataset/{i['d1']}", params={"status": "live"},
                      headers=admin).status_code == 422
    retail = api_client_for(db, client, roles=[("viewer", world.u1)])
    assert client.get(f"/api/v1/ai-systems/{i['s3']}/lineage", headers=retail).status_code == 404
    assert client.get(f"/api/v1/inventory/impact/dataset/{i['d3']}", headers=retail).status_code == 404
    r = client.get(f"/api/v1/inventory/impact/vendor/{i['v']}", headers=retail)
    assert [s["name"] for s in r.json()["systems"]] == ["Claims assistant", "Claims triage", "Fraud screen"]
    assert client.get(f"/api/v1/inventory/impact/vendor/{i['v']}").status_code == 401


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_svg_parses_and_escapes_labels(db: Session) -> None:
    unit = make_unit(db)
    system = make_system(db, unit=unit, name='Q&A <script>alert("x")</script>')
    model = make_model(db, unit=unit, name="m<1>&co", version="2")
    link_system_model(db, system, model, role="answers & cites")
    make_deployment(db, system)
    graph = lineage.system_lineage(db, None, system.id)
    root = parse(str(graph_svg.lineage_svg(graph, title=f"Lineage of {system.name}")))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == 'Lineage of Q&A <script>alert("x")</script>'
    assert root.find(f"{SVG}desc").text == "1 model, 1 ai system, 1 deployment; 2 links. The table lists them."
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "m<1>&co 2" in texts and "answers & cites" in texts
    assert not list(root.iter(f"{SVG}script"))
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert links == [f"/models/{model.id}", f"/ai-systems/{system.id}"]
    # columns: model, system, deployment, left to right
    xs = [float(r.get("x")) for r in root.iter(f"{SVG}rect")]
    assert xs == sorted(xs) and len(set(xs)) == 3


def test_svg_places_derived_models_right_of_their_base(db: Session, world: World) -> None:
    cols = graph_svg.columns(lineage.system_lineage(db, None, world.ids["s1"]))
    assert [[n.label for n in c] for c in cols] == [
        ["Acme AI", "Databrokers"], ["claims-history", "eval-set"], ["base-llm 1"], ["claims-ft 1"],
        ["claims-ft-u2 2"], ["claims-ft-u1 3"], ["Claims assistant"], ["Production", "Staging"]]


def page(client: TestClient, db: Session, **user: Any) -> None:
    email = f"reader{id(user)}@example.com"
    make_user(db, email=email, password=PASSWORD, settings=client.app.state.settings, **user)
    login(client, email, PASSWORD)


def test_lineage_and_impact_pages(client: TestClient, db: Session, world: World) -> None:
    i = world.ids
    page(client, db, roles=[("viewer", world.u1)])
    r = client.get(f"/ai-systems/{i['s1']}/lineage")
    assert r.status_code == 200
    assert 'role="img"' in r.text and "claims-ft-u2 2" in r.text and "(outside your units)" in r.text
    assert f'href="/ai-systems/{i["s1"]}/bom"' in r.text
    r = client.get(f"/datasets/{i['d1']}/impact", params={"status": "in_production"})
    assert r.status_code == 200
    assert f'<a href="/ai-systems/{i["s1"]}">Claims assistant</a>' in r.text and "Policy helper" not in r.text
    assert "Claims triage" not in r.text
    r = client.get(f"/vendors/{i['v']}/impact")
    assert r.status_code == 200 and "Fraud screen" in r.text and "Policy helper" not in r.text
    assert client.get(f"/models/{i['a']}/impact").status_code == 200
    assert client.get(f"/datasets/{i['d3']}/impact").status_code == 404
    r = client.get(f"/ai-systems/{i['s1']}/bom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert r.headers["content-disposition"] == 'attachment; filename="claims-assistant.cdx.json"'


def test_impact_and_lineage_agree_on_both_databases(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    session = make_sessionmaker(engine)()
    try:
        world = build(session)
        i = world.ids
        impact = lineage.dataset_impact(session, None, i["d1"], status="in_production")
        assert systems_of(impact) == [(i["s1"], False, [i["c"]]), (i["s3"], False, [i["b"]])]
        assert [m.id for m in lineage.vendor_impact(session, None, i["w"]).models] == [i["a"], i["c"], i["b"]]
        graph = lineage.system_lineage(session, None, i["s1"])
        assert len(graph.nodes) == 11 and len(graph.edges) == 10
    finally:
        session.rollback()
        session.close()
        engine.dispose()
