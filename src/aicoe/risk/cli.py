"""Risk register commands: ``aicoe risk list | show | heatmap``.

Commands act as the system (no signed-in user), so they see every business unit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.org import BusinessUnit
from aicoe.risk import service
from aicoe.risk.constants import LEVELS

risk_app = typer.Typer(help="The risk register: list risks, show one, print the heat map.", no_args_is_help=True)


class Basis(StrEnum):
    inherent = "inherent"
    residual = "residual"


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")


def _unit_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    unit_id = session.scalar(select(BusinessUnit.id).where(func.lower(BusinessUnit.code) == code.strip().lower()))
    if unit_id is None:
        raise ValidationFailed(f"no business unit with code {code!r}",
                               errors=[FieldError("unit", f"No business unit {code!r}.")])
    return unit_id


def _score(score: service.Score | None) -> str:
    if score is None:
        return "-"
    return f"{score.score} {LEVELS.get(score.level or '', '')} ({score.likelihood}×{score.impact})"


UnitOption = Annotated[str | None, typer.Option("--unit", help="business unit code")]


@risk_app.command("list")
@domain_errors
def list_cmd(unit: UnitOption = None,
             status: Annotated[str | None, typer.Option("--status", help="open, treating, accepted, closed or "
                                                        "active (not closed)")] = None,
             category: Annotated[str | None, typer.Option("--category", help="e.g. privacy, bias_fairness")] = None,
             level: Annotated[str | None, typer.Option("--level", help="current level: low, medium, high, "
                                                       "critical")] = None,
             overdue: Annotated[bool, typer.Option("--overdue", help="only overdue risks and acceptances due for "
                                                   "review")] = False,
             limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 200) -> None:
    """List risks, highest current score first."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        page = service.list_risks(session, None, PageParams(limit=limit), business_unit_id=_unit_id(session, unit),
                                  status=status, category=category, level=level, overdue=True if overdue else None)
        table = Table("key", "title", "category", "on", "unit", "inherent", "residual", "status", "owner")
        for risk in service.views(session, page.items):
            table.add_row(risk.key, risk.title, risk.category_label, f"{risk.subject.type_label}: {risk.subject.label}",
                          risk.business_unit.code, _score(risk.inherent), _score(risk.residual), risk.status_label,
                          risk.owner.full_name if risk.owner else "-")
    console.print(table)
    console.print(f"{table.row_count} of {page.total} risks")


@risk_app.command("show")
@domain_errors
def show(key: Annotated[str, typer.Argument(metavar="KEY", help="a risk key, e.g. RSK-0007")]) -> None:
    """Show one risk: its subject, ratings, treatment and controls."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        risk = service.view(session, service.get_risk(session, None, key))
        details = Table(show_header=False, box=None)
        acceptance = "-"
        if risk.treatment == "accept":
            approver = risk.accepted_by.full_name if risk.accepted_by else "awaiting approval"
            expiry = risk.acceptance_expires_on.isoformat() if risk.acceptance_expires_on else "-"
            acceptance = f"{approver}; expires {expiry}"
        for label, text in [
            ("Risk", f"{risk.key} {risk.title}"), ("Category", risk.category_label),
            ("On", f"{risk.subject.type_label}: {risk.subject.label}"),
            ("Business unit", f"{risk.business_unit.name} ({risk.business_unit.code})"),
            ("Owner", risk.owner.full_name if risk.owner else "-"),
            ("Inherent", _score(risk.inherent)), ("Residual", _score(risk.residual)),
            ("Status", risk.status_label), ("Treatment", risk.treatment_label), ("Acceptance", acceptance),
            ("Due", (risk.due_date.isoformat() if risk.due_date else "-") + (" (overdue)" if risk.overdue else "")),
            ("Controls", ", ".join(f"{c.code} {c.name}" for c in risk.controls) or "-"),
            ("Description", risk.description or "-"), ("Treatment plan", risk.treatment_plan or "-"),
        ]:
            details.add_row(f"[bold]{label}[/bold]", text)
    console.print(details)


@risk_app.command("heatmap")
@domain_errors
def heatmap_cmd(basis: Annotated[Basis, typer.Option("--basis", help="inherent or residual")] = Basis.inherent,
                unit: UnitOption = None) -> None:
    """Print the heat map: live risks per likelihood (rows, most likely first) and impact (columns)."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        heat = service.heatmap(session, None, basis.value, business_unit_id=_unit_id(session, unit))
    table = Table("likelihood \\ impact", *heat.impact_labels, title=f"{basis.value.capitalize()} risk heat map")
    styles = {"low": "green", "medium": "yellow", "high": "dark_orange", "critical": "bold red"}
    for likelihood in range(len(heat.likelihood_labels), 0, -1):
        cells = [heat.cell(likelihood, impact) for impact in range(1, len(heat.impact_labels) + 1)]
        table.add_row(heat.likelihood_labels[likelihood - 1],
                      *(f"[{styles.get(c.level or '', 'default')}]{c.count}[/]" for c in cells))
    console.print(table)
    console.print(f"{heat.total} live risks; bands: "
                  + ", ".join(f"{b.label} {b.min}-{b.max}" for b in heat.bands))
