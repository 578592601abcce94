"""Models and migrations agree, and upgrade -> downgrade -> upgrade works, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import aicoe.models  # noqa: F401
from aicoe.core import migrate
from aicoe.core.db import Base, make_engine


def schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_match_migrations_and_round_trip(any_db_url: str) -> None:
    assert schema_diff(any_db_url) == []
    migrate.downgrade(any_db_url, "base")
    assert tables(any_db_url) == {"alembic_version"}
    migrate.upgrade(any_db_url)
    assert schema_diff(any_db_url) == []
    assert set(Base.metadata.tables) <= tables(any_db_url)
    engine = make_engine(any_db_url)
    try:
        assert migrate.is_current(engine)
    finally:
        engine.dispose()


def test_sqlite_pragmas(db_url: str) -> None:
    engine = make_engine(db_url, busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    engine.dispose()
