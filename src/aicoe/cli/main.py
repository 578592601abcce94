"""The ``aicoe`` command: one Typer root, one sub-app or command per area."""

from __future__ import annotations

import typer

from aicoe.audit.cli import app as audit_app
from aicoe.cli import server
from aicoe.compliance.cli_assess import register as register_assessments
from aicoe.compliance.cli_catalog import register as register_catalogs
from aicoe.compliance.cli_classify import register as register_classification
from aicoe.compliance.cli_controls import register as register_controls
from aicoe.evaluation.cli import register as register_evaluate
from aicoe.gateway import cli_keys  # noqa: F401 -- adds `aicoe gateway key ...`
from aicoe.gateway.cli_guard import register as register_guard
from aicoe.gateway.cli_serve import register as register_gateway
from aicoe.inventory.cli import register as register_inventory
from aicoe.jobs.cli import register as register_jobs
from aicoe.org.cli import register as register_org
from aicoe.policy.cli import register as register_policy
from aicoe.portfolio.cli import register as register_portfolio
from aicoe.reviews.cli import register as register_reviews
from aicoe.risk.cli import register as register_risk
from aicoe.sensitive.cli_redact import register as register_redact
from aicoe.sensitive.cli_scan import register as register_scan

app = typer.Typer(help="aicoe: the platform an AI/ML Center of Excellence runs on.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
server.register(app)
register_org(app)
app.add_typer(audit_app, name="audit", help="Verify and export the audit ledger.")
register_jobs(app)
register_portfolio(app)
register_inventory(app)
register_catalogs(app)
register_classification(app)
register_assessments(app)
register_controls(app)
register_risk(app)
register_policy(app)
register_reviews(app)
register_scan(app)
register_redact(app)
register_evaluate(app)
register_gateway(app)
register_guard(app)


def main() -> None:
    app()
