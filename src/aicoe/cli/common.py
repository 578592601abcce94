"""What every command shares: settings, a database unit of work, and turning domain errors into exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from aicoe.config import ConfigError, Settings
from aicoe.core.db import make_engine, make_sessionmaker, session_scope
from aicoe.core.errors import DomainError

console = Console()
err_console = Console(stderr=True)


class EngineChoice(StrEnum):
    """Where an engine computes (``--engine``): this machine's processes, or a Ray cluster."""

    local = "local"
    ray = "ray"
F = TypeVar("F", bound=Callable[..., Any])


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        err_console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    """An engine for the length of one command."""
    engine = make_engine(settings.effective_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def unit_of_work(settings: Settings, *, write: bool = True) -> Iterator[Session]:
    """One transaction for one command: committed when the command succeeds, rolled back otherwise."""
    with engine_for(settings) as engine:
        factory = make_sessionmaker(engine, settings=settings)
        with session_scope(factory, write=write) as session:
            yield session


def domain_errors(func: F) -> F:
    """Print a domain error as one red line and exit 1, instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            err_console.print(f"[red]{exc.title}:[/red] {exc.detail}", soft_wrap=True)
            for field_error in exc.errors:
                err_console.print(f"  {field_error.field}: {field_error.message}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
