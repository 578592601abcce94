"""Control and evidence commands: ``aicoe control list | show`` and ``aicoe evidence list | add | remind``.

Commands act as the system (no signed-in user), so they see every business unit; evidence added here has no
uploader, so any reviewer may sign it off.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.compliance import controls, evidence
from aicoe.compliance.constants import (
    CONTROL_CATEGORIES,
    CONTROL_SUBJECTS,
    EVIDENCE_KINDS,
    EVIDENCE_TYPES,
    IMPLEMENTATION_STATUSES,
    REVIEW_STATUSES,
)
from aicoe.compliance.evidence_reminders import send_reminders
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.compliance import Framework
from aicoe.models.org import BusinessUnit

control_app = typer.Typer(help="The control library: list controls, show one with its mappings and implementations.",
                          no_args_is_help=True)
evidence_app = typer.Typer(help="Evidence: list it, add a file, send expiry reminders.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(control_app, name="control")
    app.add_typer(evidence_app, name="evidence")


def _unit(session: Session, code: str) -> BusinessUnit:
    unit = session.scalar(select(BusinessUnit).where(func.lower(BusinessUnit.code) == code.strip().lower()))
    if unit is None:
        raise ValidationFailed(f"no business unit with code {code!r}",
                               errors=[FieldError("unit", f"No business unit {code!r}.")])
    return unit


def _framework_id(session: Session, key: str) -> int:
    framework_id = session.scalar(select(Framework.id).where(Framework.key == key.strip().lower(),
                                                             Framework.is_current.is_(True)))
    if framework_id is None:
        raise NotFound(f"no current framework {key!r}")
    return framework_id


# --- controls ----------------------------------------------------------------------------------------------------

@control_app.command("list")
@domain_errors
def list_controls(category: Annotated[str | None, typer.Option("--category", help=", ".join(CONTROL_CATEGORIES))]
                  = None,
                  framework: Annotated[str | None, typer.Option("--framework", help="only controls mapped to this "
                                                                "framework id, e.g. nist-ai-rmf")] = None,
                  limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 200) -> None:
    """List the control library by code, with mapped requirements per framework and implementation counts."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        page = controls.list_controls(session, None, PageParams(limit=limit), category=category,
                                      framework_id=_framework_id(session, framework) if framework else None)
        counts = controls.implementation_counts(session, None, [c.id for c in page.items])
        table = Table("code", "name", "category", "mapped requirements", "implementations")
        for c in page.items:
            mapped: dict[str, list[str]] = {}
            for link in sorted(c.requirement_links, key=lambda k: k.requirement.position):
                mapped.setdefault(link.requirement.framework.key, []).append(link.requirement.ref)
            table.add_row(c.code, c.name, CONTROL_CATEGORIES.get(c.category, c.category),
                          "; ".join(f"{k}: {', '.join(refs)}" for k, refs in sorted(mapped.items())) or "-",
                          str(counts.get(c.id, 0)))
    console.print(table)
    console.print(f"{table.row_count} of {page.total} controls")


@control_app.command("show")
@domain_errors
def show_control(code: Annotated[str, typer.Argument(metavar="CODE", help="a control's code (or id)")]) -> None:
    """Show a control: details, the requirements it satisfies, where it is implemented and who inherits it."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        control = controls.get_control(session, None, controls.find_control(session, code).id)
        details = Table(show_header=False, box=None)
        for label, text in [("code", control.code), ("name", control.name),
                            ("category", CONTROL_CATEGORIES.get(control.category, control.category)),
                            ("owner", control.owner.email if control.owner else "-"),
                            ("description", control.description or "-")]:
            details.add_row(f"[bold]{label}[/bold]", text)
        console.print(details)
        requirements = Table("framework", "ref", "title", title="Requirements it satisfies")
        for link in sorted(control.requirement_links,
                           key=lambda k: (k.requirement.framework.key, k.requirement.position)):
            r = link.requirement
            requirements.add_row(f"{r.framework.key} {r.framework.version}", r.ref, r.title)
        console.print(requirements)
        labels = controls.subject_labels(session, control.implementations)
        impls = Table("id", "on", "status", "implemented on", "AI systems that benefit", title="Implementations")
        for impl in sorted(control.implementations, key=lambda i: (i.subject_type, i.id)):
            systems = controls.systems_inheriting(session, impl)
            impls.add_row(str(impl.id), f"{CONTROL_SUBJECTS[impl.subject_type].lower()} "
                                        f"{labels[(impl.subject_type, impl.subject_id)]}",
                          IMPLEMENTATION_STATUSES.get(impl.status, impl.status),
                          impl.implemented_on.isoformat() if impl.implemented_on else "-",
                          ", ".join(s.name for s in systems) or "-")
        console.print(impls)


# --- evidence ----------------------------------------------------------------------------------------------------

@evidence_app.command("list")
@domain_errors
def list_evidence(unit: Annotated[str | None, typer.Option("--unit", help="business unit code")] = None,
                  expired: Annotated[bool, typer.Option("--expired", help="only evidence past its expiry")] = False,
                  expiring: Annotated[int | None, typer.Option("--expiring", min=0, metavar="DAYS",
                                                               help="only evidence expiring within DAYS")] = None,
                  review: Annotated[str | None, typer.Option("--review", help=", ".join(REVIEW_STATUSES))] = None,
                  limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 200) -> None:
    """List the latest version of each piece of evidence, soonest expiry first."""
    if expired and expiring is not None:
        raise ValidationFailed("--expired and --expiring exclude each other",
                               errors=[FieldError("expiring", "Use --expired or --expiring, not both.")])
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        page = evidence.list_evidence(
            session, None, PageParams(limit=limit, sort="expires_on"), review_status=review,
            expiry="expired" if expired else "expiring" if expiring is not None else None,
            within_days=expiring or 0, business_unit_id=_unit(session, unit).id if unit else None)
        table = Table("id", "title", "kind", "unit", "effective", "expires", "review", "version", "sha256")
        for ev in page.items:
            table.add_row(str(ev.id), ev.title, EVIDENCE_KINDS.get(ev.kind, ev.kind), ev.business_unit.code,
                          ev.effective_date.isoformat(), ev.expires_on.isoformat() if ev.expires_on else "-",
                          REVIEW_STATUSES.get(ev.review_status, ev.review_status), str(ev.version), ev.sha256[:12])
    console.print(table)
    console.print(f"{table.row_count} of {page.total} evidence")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{option} is not a date",
                               errors=[FieldError(option.lstrip("-"), "Give a date as YYYY-MM-DD.")]) from None


@evidence_app.command("add")
@domain_errors
def add_evidence(file: Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False, readable=True,
                                                      help="the file to store")],
                 unit: Annotated[str, typer.Option("--unit", help="business unit code")],
                 title: Annotated[str, typer.Option("--title", help="default: the file name")] = "",
                 effective: Annotated[str | None, typer.Option("--effective-date", metavar="YYYY-MM-DD",
                                                               help="default: today")] = None,
                 expires: Annotated[str | None, typer.Option("--expires-on", metavar="YYYY-MM-DD")] = None,
                 evidence_type: Annotated[str | None, typer.Option("--type", help=", ".join(EVIDENCE_TYPES))]
                 = None,
                 description: Annotated[str, typer.Option("--description")] = "") -> None:
    """Store FILE as evidence of a business unit (content-addressed; size and type checked)."""
    settings = load_settings()
    effective_date = _date(effective, "--effective-date") or date.today()
    with unit_of_work(settings) as session, file.open("rb") as stream:
        row = evidence.add_file(session, None, settings, stream, file.name, None, title=title,
                                business_unit_id=_unit(session, unit).id, effective_date=effective_date,
                                expires_on=_date(expires, "--expires-on"), evidence_type=evidence_type,
                                description=description)
        console.print(f"Added evidence {row.id} {row.title!r} (sha256 {row.sha256}, {row.size} bytes)")


@evidence_app.command("remind")
@domain_errors
def remind() -> None:
    """Record a reminder for evidence expiring within evidence_reminder_days or expired (once a week each)."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        report = send_reminders(session, None, settings)
    console.print(f"{report.reminded} reminder(s): {report.expiring} expiring within "
                  f"{settings.evidence_reminder_days} days, {report.expired} expired")
