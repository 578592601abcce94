"""Configuration, health probes, request ids, JSON logging and database failures answered as 503."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from aicoe.app import create_app
from aicoe.config import ConfigError, Settings
from tests.factories import bearer, make_settings, make_token, make_user


def test_production_refuses_missing_or_weak_secret(tmp_path: Path) -> None:
    for key in (None, "changeme", "short-key"):
        with pytest.raises(ConfigError, match="AICOE_SECRET_KEY"):
            Settings(env="production", data_dir=tmp_path, secret_key=key)
    assert Settings(env="production", data_dir=tmp_path, secret_key="k" * 40).signing_key == "k" * 40


def test_development_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = Settings(env="development", data_dir=tmp_path).signing_key
    assert len(first) >= 48
    assert Settings(env="development", data_dir=tmp_path).signing_key == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_masked_settings_hide_secrets(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, secret_key="s" * 40, database_url="postgresql+psycopg://u:hunter2@db/aicoe")
    shown = json.dumps(s.masked())
    assert "hunter2" not in shown and "s" * 40 not in shown
    assert s.masked()["database_url"] == "postgresql+psycopg://u:***@db/aicoe"


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).effective_database_url == f"sqlite:///{tmp_path}/aicoe.db"


def test_the_cache_directory_follows_xdg_and_an_empty_setting_keeps_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aicoe.engines.sensitive import prefilter
    from aicoe.sensitive.compiled import keep_compiled_filters

    monkeypatch.delenv("AICOE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Settings(data_dir=tmp_path).cache_dir == tmp_path / "xdg" / "aicoe"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings(data_dir=tmp_path).cache_dir == tmp_path / "home" / ".cache" / "aicoe"
    monkeypatch.setenv("AICOE_CACHE_DIR", "")
    assert Settings(data_dir=tmp_path).cache_dir is None
    monkeypatch.setattr(prefilter, "_cache_dir", None)
    monkeypatch.setenv("AICOE_CACHE_DIR", str(tmp_path / "kept"))
    keep_compiled_filters()  # what `aicoe scan`, `aicoe redact`, the servers and the worker do at start
    assert prefilter._cache_dir == tmp_path / "kept"
    monkeypatch.setenv("AICOE_ENV", "production")  # settings that do not validate (no secret key) change nothing
    keep_compiled_filters()
    assert prefilter._cache_dir == tmp_path / "kept"
    create_app(make_settings(f"sqlite:///{tmp_path}/app.db", tmp_path, cache_dir=None))
    assert prefilter._cache_dir is None


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_readiness_fails_on_unmigrated_database(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path}/empty.db", tmp_path))
    with TestClient(app) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["migrations"].startswith("at None")


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert len(generated) == 32 and generated.isalnum()


def test_json_log_lines_carry_the_request_id(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(make_settings(db_url, tmp_path, log_format="json"))
    with TestClient(app) as client:
        client.get("/healthz", headers={"X-Request-ID": "req-42"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "aicoe.access"]
    assert access and access[-1]["request_id"] == "req-42"
    assert access[-1]["message"].startswith("GET /healthz 200 ")


def test_unknown_api_path_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_locked_sqlite_answers_503_not_a_traceback(tmp_path: Path, db_url: str) -> None:
    app = create_app(make_settings(db_url, tmp_path, sqlite_busy_timeout_ms=50))
    session: Session = app.state.sessionmaker()
    h = bearer(make_token(session, make_user(session)))
    session.close()
    blocker = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with TestClient(app) as client:
            r = client.post("/api/v1/business-units", headers=h, json={"code": "X", "name": "X"})
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["title"] == "Service unavailable"
        assert r.headers["retry-after"] == "5"
    finally:
        blocker.rollback()
        blocker.close()


def test_database_down_answers_503(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=1"
    with TestClient(create_app(make_settings(url, tmp_path))) as client:
        r = client.get("/api/v1/business-units", headers=bearer("aicoe_anything"))
        assert r.status_code == 503
        assert r.json()["type"] == "https://aicoe.dev/problems/service-unavailable"
        assert client.get("/readyz").status_code == 503
