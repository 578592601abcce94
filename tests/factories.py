"""Plain factory functions for tests. They go through the services where a rule matters and commit."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from aicoe.auth import service as auth_service
from aicoe.config import Settings
from aicoe.core.db import begin_write
from aicoe.models.org import BusinessUnit, RoleAssignment, User

_seq = itertools.count(1)
PASSWORD = "Correct-Horse-42-battery"


def _writing(session: Session) -> None:
    """End any read transaction and take the write lock: on SQLite a write after a stale read would fail."""
    session.commit()
    begin_write(session)


def make_settings(db_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        env="test", data_dir=tmp_path / "data", database_url=db_url, secret_key="t" * 48,
        argon2_time_cost=1, argon2_memory_kib=64, job_workers=0, job_poll_s=0.05,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def make_unit(session: Session, *, code: str | None = None, name: str | None = None,
              parent: BusinessUnit | None = None) -> BusinessUnit:
    _writing(session)
    n = next(_seq)
    unit = BusinessUnit(code=code or f"BU{n}", name=name or f"Unit {n}", description="",
                        parent_id=parent.id if parent else None)
    session.add(unit)
    session.commit()
    return unit


def make_user(session: Session, *, email: str | None = None, roles: list[tuple[str, BusinessUnit | None]] | None = None,
              business_unit: BusinessUnit | None = None, password: str | None = None,
              settings: Settings | None = None, full_name: str | None = None, active: bool = True) -> User:
    """``roles`` defaults to CoE-wide admin; pass ``[]`` for a user with no role at all."""
    _writing(session)
    n = next(_seq)
    user = User(email=email or f"user{n}@example.com", full_name=full_name or f"User {n}", title="",
                business_unit_id=business_unit.id if business_unit else None, is_active=active)
    if password:
        assert settings is not None, "pass settings to hash a password"
        user.password_hash = auth_service.passwords_for(settings).hash(password)
    user.roles = [RoleAssignment(role=r, business_unit_id=u.id if u else None)
                  for r, u in ([("admin", None)] if roles is None else roles)]
    session.add(user)
    session.commit()
    return user


def make_token(session: Session, user: User, *, scopes: list[str] | None = None, expires_at=None) -> str:  # noqa: ANN001
    _writing(session)
    issued = auth_service.create_token(session, None, user, name=f"test {next(_seq)}", scopes=scopes or [],
                                       expires_at=expires_at)
    session.commit()
    return issued.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def api_client_for(session: Session, client: TestClient, **user_kwargs: object) -> dict[str, str]:
    """Headers for a fresh user (see ``make_user`` for the arguments)."""
    return bearer(make_token(session, make_user(session, **user_kwargs)))  # type: ignore[arg-type]


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (as a browser would) and keep the session cookie on the client."""
    page = client.get("/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def use_cli_database(monkeypatch: pytest.MonkeyPatch, url: str, data_dir: Path | str) -> None:
    """Point the in-process CLI (``CliRunner``) at ``url``, with a terminal wide enough that tables never wrap."""
    for key, value in {"AICOE_DATABASE_URL": url, "AICOE_DATA_DIR": str(data_dir), "AICOE_SECRET_KEY": "c" * 40,
                       "COLUMNS": "250"}.items():
        monkeypatch.setenv(key, value)
