"""``aicoe gateway``: the command group (``serve`` here; ``key ...`` is added by ``cli_keys``)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from aicoe.cli.common import console, engine_for, err_console, load_settings
from aicoe.core import migrate
from aicoe.core.logging import configure_logging

gateway_cli = typer.Typer(help="The GenAI gateway: an OpenAI-compatible proxy.", no_args_is_help=True)

NOT_MIGRATED = "[red]The database schema is not at the latest migration.[/red] Run: aicoe db upgrade"
SERVING = "Serving the aicoe gateway on [bold]http://{host}:{port}/v1[/bold] with {workers} worker(s) (Ctrl+C to stop)"


@gateway_cli.command("serve")
def serve(
    host: Annotated[str | None, typer.Option("--host", help="interface to bind (default: settings host)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="port to listen on (default: settings port)")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="worker processes (limits and budgets are "
                                         "shared through Redis or the database)")] = 1,
) -> None:
    """Serve only the gateway (/v1, /metrics, /healthz), without the platform's UI and API."""
    settings = load_settings(host=host, port=port)
    with engine_for(settings) as engine:
        current = migrate.is_current(engine)
    if not current:
        err_console.print(NOT_MIGRATED)
        raise typer.Exit(1)
    _ = settings.signing_key  # created once here in development, so workers never race to create it
    configure_logging(settings.log_level, settings.log_format)
    console.print(SERVING.format(host=settings.host, port=settings.port, workers=workers))
    sys.stdout.flush()
    # the lean server process (aicoe.gateway.serve) takes this one's place; settings travel in the environment
    os.execv(sys.executable, [sys.executable, "-m", "aicoe.gateway.serve", settings.host, str(settings.port),
                              str(workers)])


def register(app: typer.Typer) -> None:
    from aicoe.gateway import cli_keys  # noqa: F401 -- adds `aicoe gateway key ...` to gateway_cli

    app.add_typer(gateway_cli, name="gateway")
