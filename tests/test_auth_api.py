"""API authentication: tokens (shown once, hashed, scoped, expiring, revocable), 401s, CSRF for cookie callers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.auth.service import sha256_hex
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.models.org import ApiToken
from tests.factories import PASSWORD, bearer, login, make_token, make_user


def test_token_is_shown_once_and_stored_hashed(client: TestClient, db: Session) -> None:
    h = bearer(make_token(db, make_user(db)))
    r = client.post("/api/v1/me/tokens", headers=h, json={"name": "ci", "scopes": ["business_unit:read"]})
    assert r.status_code == 201
    secret = r.json()["token"]
    assert secret.startswith("aicoe_")
    row = db.scalar(select(ApiToken).where(ApiToken.name == "ci"))
    assert row is not None and row.token_hash == sha256_hex(secret) and secret not in (row.prefix, row.token_hash)
    listed = client.get("/api/v1/me/tokens", headers=h).json()
    assert all("token" not in t for t in listed)


def test_scoped_token_only_has_its_scopes(client: TestClient, db: Session) -> None:
    user = make_user(db)
    h = bearer(make_token(db, user, scopes=["business_unit:read"]))
    assert client.get("/api/v1/business-units", headers=h).status_code == 200
    assert client.get("/api/v1/users", headers=h).status_code == 403
    assert client.get("/api/v1/me", headers=h).json()["permissions"] == ["business_unit:read"]
    r = client.post("/api/v1/me/tokens", headers=bearer(make_token(db, user)),
                    json={"name": "x", "scopes": ["nonsense:perm"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scopes"


def test_expired_revoked_disabled_and_malformed_credentials_are_401(client: TestClient, db: Session) -> None:
    user = make_user(db)
    expired = make_token(db, user, expires_at=utcnow() + timedelta(seconds=1))
    token = db.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(expired)))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    r = client.get("/api/v1/me", headers=bearer(expired))
    assert r.status_code == 401 and r.json()["detail"] == "the API token has expired"
    assert r.headers["www-authenticate"] == "Bearer"

    good = make_token(db, user)
    token_id = db.scalar(select(ApiToken.id).where(ApiToken.token_hash == sha256_hex(good)))
    assert client.delete(f"/api/v1/me/tokens/{token_id}", headers=bearer(good)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(good)).status_code == 401

    other = make_user(db, active=False)
    assert client.get("/api/v1/me", headers=bearer(make_token(db, other))).status_code == 401
    assert client.get("/api/v1/me", headers=bearer("aicoe_not-a-token")).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_cookie_session_api_calls_need_csrf_header(client: TestClient, db: Session, settings: Settings) -> None:
    make_user(db, email="cookie@example.com", password=PASSWORD, settings=settings)
    login(client, "cookie@example.com")
    assert client.get("/api/v1/me").status_code == 200
    r = client.post("/api/v1/me/tokens", json={"name": "x"})
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    assert db.scalar(select(ApiToken).where(ApiToken.name == "x")) is None


def test_token_expiring_in_the_past_is_refused(client: TestClient, db: Session) -> None:
    h = bearer(make_token(db, make_user(db)))
    r = client.post("/api/v1/me/tokens", headers=h, json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "expires_at"


def test_password_change_rules(client: TestClient, db: Session, settings: Settings) -> None:
    user = make_user(db, email="pat@example.com", password=PASSWORD, settings=settings)
    h = bearer(make_token(db, user))
    cases = [
        ("wrong-current-pw", "Another-Good-Pass-9", "current_password"),
        (PASSWORD, "short", "new_password"),
        (PASSWORD, "Password2026", "new_password"),
        (PASSWORD, "xxxxxxxxxxxxxx", "new_password"),
        (PASSWORD, "my-pat-password-99", "new_password"),
    ]
    for current, new, field in cases:
        r = client.post("/api/v1/me/password", headers=h, json={"current_password": current, "new_password": new})
        assert r.status_code == 422, (new, r.text)
        assert r.json()["errors"][0]["field"] == field
    r = client.post("/api/v1/me/password", headers=h,
                    json={"current_password": PASSWORD, "new_password": "Another-Good-Pass-9"})
    assert r.status_code == 204
