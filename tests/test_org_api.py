"""Business units and people through the API: CRUD, bad input, business-unit scoping, audit events."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.models.audit import AuditEvent
from aicoe.models.org import BusinessUnit, User
from tests.factories import bearer, make_token, make_unit, make_user


def audit_count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(AuditEvent)) or 0


def admin_headers(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db)))


def test_business_unit_crud_with_audit(client: TestClient, db: Session) -> None:
    h = admin_headers(db)
    created = client.post("/api/v1/business-units", json={"code": "RET", "name": "Retail"}, headers=h)
    assert created.status_code == 201, created.text
    unit = created.json()
    child = client.post("/api/v1/business-units", json={"code": "RET-C", "name": "Cards", "parent_id": unit["id"]},
                        headers=h).json()
    assert child["parent_id"] == unit["id"]
    patched = client.patch(f"/api/v1/business-units/{unit['id']}", json={"description": "Retail banking"}, headers=h)
    assert patched.json()["description"] == "Retail banking"
    listing = client.get("/api/v1/business-units?sort=-code", headers=h).json()
    assert [u["code"] for u in listing["items"]] == ["RET-C", "RET"]
    assert listing["total"] == 2
    events = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "business_unit")
                        .order_by(AuditEvent.seq)).all()
    assert [(e.action, e.entity_id) for e in events] == [
        ("create", str(unit["id"])), ("create", str(child["id"])), ("update", str(unit["id"]))]
    assert events[2].diff == '{"description":["","Retail banking"]}'
    assert client.delete(f"/api/v1/business-units/{child['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/business-units/{child['id']}", headers=h).status_code == 404


def test_unknown_field_wrong_type_and_too_long_are_422_and_write_nothing(client: TestClient, db: Session) -> None:
    h = admin_headers(db)
    before = audit_count(db)
    cases = [
        ({"code": "X", "name": "X", "colour": "red"}, "colour"),
        ({"code": "X", "name": "X", "parent_id": "abc"}, "parent_id"),
        ({"code": "X", "name": "N" * 121}, "name"),
        ({"code": "bad code!", "name": "X"}, "code"),
        ({"name": "X"}, "code"),
    ]
    for body, field in cases:
        r = client.post("/api/v1/business-units", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["type"] == "https://aicoe.dev/problems/validation-error"
        assert [e["field"] for e in problem["errors"]] == [field]
    assert audit_count(db) == before
    assert db.scalar(select(func.count()).select_from(BusinessUnit)) == 0


def test_duplicates_and_blocked_deletes_are_409(client: TestClient, db: Session) -> None:
    h = admin_headers(db)
    parent = make_unit(db, code="P", name="Parent")
    child = make_unit(db, code="C", name="Child", parent=parent)
    r = client.post("/api/v1/business-units", json={"code": "p", "name": "Other"}, headers=h)
    assert r.status_code == 409
    assert r.json()["errors"] == [{"field": "code", "message": "'p' is already taken."}]
    r = client.delete(f"/api/v1/business-units/{parent.id}", headers=h)
    assert r.status_code == 409
    assert r.json()["detail"] == "cannot delete business unit 'Parent': it still has sub-units"
    make_user(db, business_unit=child, roles=[])
    r = client.delete(f"/api/v1/business-units/{child.id}", headers=h)
    assert r.json()["detail"] == "cannot delete business unit 'Child': people still belong to it"
    r = client.patch(f"/api/v1/business-units/{parent.id}", json={"parent_id": child.id}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "parent_id"


def test_people_crud_roles_and_disable(client: TestClient, db: Session) -> None:
    h = admin_headers(db)
    unit = make_unit(db)
    r = client.post("/api/v1/users", headers=h, json={
        "email": "Jane.Doe@Example.com", "full_name": "Jane Doe", "title": "Data Scientist",
        "business_unit_id": unit.id, "coe_role": "Data science", "roles": [{"role": "practitioner"}]})
    assert r.status_code == 201, r.text
    person = r.json()
    assert person["email"] == "jane.doe@example.com"
    assert person["roles"] == [{"role": "practitioner", "business_unit_id": None}]
    dup = client.post("/api/v1/users", headers=h, json={"email": "jane.doe@example.com", "full_name": "J"})
    assert dup.status_code == 409
    bad_role = client.put(f"/api/v1/users/{person['id']}/roles", headers=h, json={"roles": [{"role": "wizard"}]})
    assert bad_role.status_code == 422
    assert bad_role.json()["errors"][0]["field"] == "role"
    r = client.put(f"/api/v1/users/{person['id']}/roles", headers=h,
                   json={"roles": [{"role": "domain_expert", "business_unit_id": unit.id}]})
    assert r.json()["roles"] == [{"role": "domain_expert", "business_unit_id": unit.id}]
    roster = client.get("/api/v1/users?roster=true", headers=h).json()
    assert [p["email"] for p in roster["items"]] == ["jane.doe@example.com"]
    assert client.post(f"/api/v1/users/{person['id']}/disable", headers=h).json()["is_active"] is False
    assert client.get("/api/v1/users?active=false", headers=h).json()["total"] == 1
    r = client.patch(f"/api/v1/users/{person['id']}", headers=h, json={"title": "Lead", "email": "x@y.z"})
    assert r.status_code == 422  # email is not editable: unknown field
    assert client.delete(f"/api/v1/users/{person['id']}", headers=h).status_code == 204


def test_deleting_a_unit_with_people_changes_nothing(client: TestClient, db: Session) -> None:
    h = admin_headers(db)
    unit = make_unit(db)
    make_user(db, business_unit=unit, roles=[])
    before = audit_count(db)
    assert client.delete(f"/api/v1/business-units/{unit.id}", headers=h).status_code == 409
    assert audit_count(db) == before
    assert db.get(BusinessUnit, unit.id) is not None


def test_last_admin_cannot_be_demoted_or_disabled(client: TestClient, db: Session) -> None:
    admin = make_user(db)
    h = bearer(make_token(db, admin))
    second = make_user(db, roles=[("viewer", None)])
    r = client.post(f"/api/v1/users/{admin.id}/disable", headers=h)
    assert r.status_code == 409 and r.json()["detail"] == "you cannot disable your own account"
    r = client.put(f"/api/v1/users/{admin.id}/roles", headers=h, json={"roles": [{"role": "viewer"}]})
    assert r.status_code == 409
    assert client.put(f"/api/v1/users/{second.id}/roles", headers=h,
                      json={"roles": [{"role": "admin"}]}).status_code == 200
    assert client.put(f"/api/v1/users/{admin.id}/roles", headers=h,
                      json={"roles": [{"role": "viewer"}]}).status_code == 200


def test_business_unit_scoping(client: TestClient, db: Session) -> None:
    retail = make_unit(db, code="RET", name="Retail")
    cards = make_unit(db, code="CARDS", name="Cards", parent=retail)
    insurance = make_unit(db, code="INS", name="Insurance")
    inside = make_user(db, business_unit=cards, roles=[], email="inside@example.com")
    outside = make_user(db, business_unit=insurance, roles=[], email="outside@example.com")
    lead = make_user(db, business_unit=retail, roles=[("coe_lead", retail)], email="lead@example.com")
    h = bearer(make_token(db, lead))

    people = client.get("/api/v1/users", headers=h).json()
    assert sorted(p["email"] for p in people["items"]) == ["inside@example.com", "lead@example.com"]
    units = client.get("/api/v1/business-units", headers=h).json()
    assert sorted(u["code"] for u in units["items"]) == ["CARDS", "RET"]
    # outside their unit: as if it did not exist
    assert client.get(f"/api/v1/users/{outside.id}", headers=h).status_code == 404
    assert client.patch(f"/api/v1/users/{outside.id}", headers=h, json={"title": "x"}).status_code == 404
    assert client.get(f"/api/v1/business-units/{insurance.id}", headers=h).status_code == 404
    # inside: allowed
    assert client.patch(f"/api/v1/users/{inside.id}", headers=h, json={"title": "Analyst"}).status_code == 200
    # cannot move a person out of scope, cannot create a top-level unit or a person elsewhere
    r = client.patch(f"/api/v1/users/{inside.id}", headers=h, json={"business_unit_id": insurance.id})
    assert r.status_code == 403
    assert client.post("/api/v1/business-units", headers=h, json={"code": "TOP", "name": "Top"}).status_code == 403
    r = client.post("/api/v1/users", headers=h, json={"email": "n@example.com", "full_name": "N",
                                                        "business_unit_id": insurance.id})
    assert r.status_code == 403
    # may create a sub-unit inside their subtree; may not grant accounts (user:write is CoE-wide only)
    r = client.post("/api/v1/business-units", headers=h, json={"code": "LOANS", "name": "Loans",
                                                                 "parent_id": retail.id})
    assert r.status_code == 201
    r = client.post("/api/v1/users", headers=h, json={"email": "n@example.com", "full_name": "N",
                                                        "business_unit_id": cards.id, "roles": [{"role": "admin"}]})
    assert r.status_code == 403
    assert db.scalar(select(User).where(User.email == "n@example.com")) is None


def test_pagination_limits_and_sort_errors(client: TestClient, db: Session) -> None:
    h = admin_headers(db)
    for i in range(5):
        make_unit(db, code=f"U{i}", name=f"Unit {i}")
    page = client.get("/api/v1/business-units?limit=2&offset=2&sort=code", headers=h).json()
    assert [u["code"] for u in page["items"]] == ["U2", "U3"]
    assert (page["total"], page["next_offset"]) == (5, 4)
    big = client.get("/api/v1/business-units?limit=100000", headers=h).json()
    assert big["limit"] == 200
    r = client.get("/api/v1/business-units?sort=secret", headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "sort"
