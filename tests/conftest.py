"""Shared fixtures: a fresh migrated database per test (SQLite always, PostgreSQL where available), the app and
a client. Databases are cloned from a template migrated once per session, so each test starts clean and fast.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from aicoe.app import create_app
from aicoe.config import Settings
from aicoe.core import migrate
from aicoe.core.db import make_engine, make_sessionmaker
from tests.factories import make_settings, use_cli_database

# The CLI's Rich consoles are created at import and read COLUMNS then: tables never wrap, in whatever worker or
# order the tests run.
os.environ.setdefault("COLUMNS", "250")
# Tests keep nothing in the user's cache; the ones about keeping compiled filters name their own directory.
os.environ["AICOE_CACHE_DIR"] = ""

PG_ADMIN_URL = os.environ.get("AICOE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_TEMPLATE = f"aicoe_test_template_{os.getpid()}"  # per run, so concurrent runs never drop each other's


def _pg_available() -> str | None:
    """None when PostgreSQL is reachable, else the reason it is not."""
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    reason = _pg_available()
    if reason:
        if os.environ.get("AICOE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"AICOE_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {PG_TEMPLATE}"))
    migrate.upgrade(pg_url(PG_TEMPLATE))
    yield PG_TEMPLATE
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)"))
    admin.dispose()


def pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def fresh_sqlite(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "aicoe.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def pg_url_fresh(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new PostgreSQL database cloned from the migrated template, dropped afterwards."""
    template = request.getfixturevalue("pg_template")
    name = f"aicoe_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"))
    yield pg_url(name)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database."""
    return fresh_sqlite(sqlite_template, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated database on each backend in turn."""
    if request.param == "sqlite":
        return fresh_sqlite(sqlite_template, tmp_path)
    return request.getfixturevalue("pg_url_fresh")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


@pytest.fixture
def app(settings: Settings):  # noqa: ANN201
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(app) -> Iterator[Session]:  # noqa: ANN001
    """A session on the app's database for arranging data; call ``db.commit()`` before requests see it."""
    session = app.state.sessionmaker()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A migrated SQLite database the in-process CLI uses, and a session on it to arrange data."""
    url = f"sqlite:///{tmp_path}/cli.db"
    use_cli_database(monkeypatch, url, tmp_path / "data")
    migrate.upgrade(url)
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()
