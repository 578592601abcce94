"""The ``aicoe`` command: one Typer root, one sub-app or command per area."""

from __future__ import annotations

import typer

from aicoe.audit.cli import app as audit_app
from aicoe.cli import server
from aicoe.inventory.cli import register as register_inventory
from aicoe.jobs.cli import register as register_jobs
from aicoe.org.cli import register as register_org
from aicoe.portfolio.cli import register as register_portfolio

app = typer.Typer(help="aicoe: the platform an AI/ML Center of Excellence runs on.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
server.register(app)
register_org(app)
app.add_typer(audit_app, name="audit", help="Verify and export the audit ledger.")
register_jobs(app)
register_portfolio(app)
register_inventory(app)


def main() -> None:
    app()
