"""``aicoe inventory sync-mlflow``: import registered models from an MLflow tracking server (as the system).

The unit and owner are checked first; the server is then read in full before the writing transaction opens, so
a slow or unreachable server never holds the database's write lock, and a failure changes nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.inventory import mlflow_sync
from aicoe.models.org import BusinessUnit
from aicoe.org.service import find_by_email


def register(inventory_app: typer.Typer) -> None:
    inventory_app.command("sync-mlflow")(sync_mlflow)


@domain_errors
def sync_mlflow(
    tracking_uri: Annotated[str, typer.Option("--tracking-uri", help="http(s) URL of the MLflow tracking server")],
    unit: Annotated[str, typer.Option("--unit", help="business unit code for newly imported models")],
    owner: Annotated[str | None, typer.Option("--owner", help="email of the owner of newly imported models")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="registered model to sync; repeatable; "
                                                    "all of them when left out")] = None,
) -> None:
    """Import registered models and their versions from MLflow; re-running updates, never duplicates."""
    settings = load_settings()
    uri = mlflow_sync.check_tracking_uri(tracking_uri)
    with unit_of_work(settings, write=False) as session:  # refuse a wrong unit or owner before reading MLflow
        unit_id = session.scalar(select(BusinessUnit.id).where(func.lower(BusinessUnit.code) == unit.strip().lower()))
        if unit_id is None:
            raise ValidationFailed(f"no business unit with code {unit!r}",
                                   errors=[FieldError("unit", f"No business unit {unit!r}.")])
        person = find_by_email(session, owner) if owner else None
        if owner and person is None:
            raise ValidationFailed(f"no person with email {owner!r}",
                                   errors=[FieldError("owner", f"No person {owner!r}.")])
    snapshot = mlflow_sync.fetch(uri, model or None)
    with unit_of_work(settings) as session:
        report = mlflow_sync.apply(session, None, snapshot, tracking_uri=uri, business_unit_id=unit_id,
                                   owner_id=person.id if person else None)
    table = Table("Model", "Version", "Id", "Outcome", "Changed fields")
    for outcome, entries in (("created", report.created), ("updated", report.updated),
                             ("unchanged", report.unchanged)):
        for entry in entries:
            table.add_row(entry.name, entry.version, str(entry.model_id), outcome, ", ".join(entry.fields))
    console.print(table)
    console.print(report.summary)
