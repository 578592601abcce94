"""Commands that run the platform: serve, init, demo, db, config."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.table import Table

from aicoe.cli.common import console, domain_errors, engine_for, err_console, load_settings, unit_of_work
from aicoe.compliance import frameworks
from aicoe.config import Settings
from aicoe.core import migrate
from aicoe.org import schemas, service

HostOpt = Annotated[str | None, typer.Option("--host", help="interface to bind (default: settings host)")]
PortOpt = Annotated[int | None, typer.Option("--port", help="port to listen on (default: settings port)")]

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


def _serve(settings: Settings) -> None:
    import uvicorn

    from aicoe.app import create_app

    with engine_for(settings) as engine:
        current = migrate.is_current(engine)
    if not current:
        err_console.print("[red]The database schema is not at the latest migration.[/red] Run: aicoe db upgrade")
        raise typer.Exit(1)
    console.print(f"Serving aicoe on [bold]http://{settings.host}:{settings.port}[/bold] (Ctrl+C to stop)")
    uvicorn.run(create_app(settings, run_jobs=True), host=settings.host, port=settings.port,
                log_config=None, proxy_headers=True)


def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Serve the UI, the API and the background job workers."""
    _serve(load_settings(host=host, port=port))


def init(
    email: Annotated[str | None, typer.Option(envvar="AICOE_ADMIN_EMAIL", help="first administrator's email")] = None,
    password: Annotated[str | None, typer.Option(envvar="AICOE_ADMIN_PASSWORD", help="their password")] = None,
    name: Annotated[str, typer.Option(envvar="AICOE_ADMIN_NAME", help="their full name")] = "Administrator",
) -> None:
    """Create or upgrade the schema and create the first administrator (prompts for what is missing)."""
    settings = load_settings()
    migrate.upgrade(settings.effective_database_url)
    console.print("Database schema is at the latest migration.")
    with unit_of_work(settings) as session:
        loaded = [o for o in frameworks.sync_builtin(session, None) if o.status != "unchanged"]
    if loaded:
        console.print(f"Loaded {len(loaded)} framework catalogs and mappings.")
    with unit_of_work(settings) as session:
        if service.find_admin(session) is not None:
            console.print("An administrator already exists; nothing else to do.")
            return
    email = email or typer.prompt("Administrator email")
    password = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _create_admin(settings, email, password, name)


@domain_errors
def _create_admin(settings: Settings, email: str, password: str, name: str) -> None:
    with unit_of_work(settings) as session:
        user = service.create_person(session, settings, None, schemas.PersonCreate(
            email=email, full_name=name, password=password, roles=[schemas.RoleIn(role="admin")],
        ))
    console.print(f"Created administrator [bold]{user.email}[/bold]. Start with: aicoe serve")


def demo(
    host: HostOpt = None, port: PortOpt = None,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="serve after seeding")] = True,
) -> None:
    """Seed the fictional demo organisation (idempotent), print how to sign in, then serve."""
    from aicoe.demo import DEMO_PASSWORD, seed

    settings = load_settings(host=host, port=port)
    migrate.upgrade(settings.effective_database_url)
    with unit_of_work(settings) as session:
        result = seed(session, settings)
    console.print(f"Demo organisation [bold]{result.organisation}[/bold]: {result.summary}")
    table = Table("sign in as", "role", title="Demo accounts (password for all: " + DEMO_PASSWORD + ")")
    for email, role in result.logins:
        table.add_row(email, role)
    console.print(table)
    console.print(f"Open [bold]http://{settings.host}:{settings.port}/login[/bold]")
    if serve_after:
        _serve(settings)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = load_settings()
    migrate.upgrade(settings.effective_database_url, revision)
    db_current()


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="target revision, e.g. -1 or base")]) -> None:
    """Revert migrations down to REVISION."""
    settings = load_settings()
    migrate.downgrade(settings.effective_database_url, revision)
    db_current()


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and whether it is the latest."""
    settings = load_settings()
    with engine_for(settings) as engine:
        current = migrate.current_revision(engine)
    head = migrate.head_revision(settings.effective_database_url)
    state = "latest" if current == head else f"behind; latest is {head}"
    console.print(f"revision: {current or '(empty database)'} ({state})")
    if current != head:
        raise typer.Exit(1)


@config_app.command("show")
def config_show(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Print the effective settings, secrets masked."""
    values = load_settings().masked()
    if as_json:
        console.print_json(json.dumps(values, default=str))
        return
    table = Table("setting", "value", "environment variable")
    for key, value in values.items():
        env = f"AICOE_{key.upper()}" if key != "effective_database_url" else "(derived)"
        marker = " (set)" if env in os.environ else ""
        table.add_row(key, str(value), env + marker)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(init)
    app.command()(demo)
    app.add_typer(db_app, name="db")
    app.add_typer(config_app, name="config")
