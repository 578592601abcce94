"""Assessment commands: ``aicoe assessment list | start | show | gaps``.

Commands act as the system (no signed-in user), so they see every business unit; ``start`` is audited as the
system. AI systems are named by id or name, frameworks by id or key (the current version).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.compliance import assessments as service
from aicoe.compliance.constants import ASSESSMENT_STATUSES, RESULT_STATUSES
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.inventory.cli import find_system
from aicoe.models.compliance import Framework
from aicoe.org.service import find_by_email

assessment_app = typer.Typer(help="Assessments of AI systems against frameworks: list, start, show, gaps.",
                             no_args_is_help=True)

SystemOpt = Annotated[str | None, typer.Option("--system", help="an AI system's id or name")]
FrameworkOpt = Annotated[str | None, typer.Option("--framework", help="a framework's id or key, e.g. eu-ai-act")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=1000, help="rows to show")]


def register(app: typer.Typer) -> None:
    app.add_typer(assessment_app, name="assessment")


def find_framework(session: Session, key_or_id: str) -> Framework:
    """By numeric id (any version), else the current version of the framework with that key."""
    key = key_or_id.strip()
    framework = session.get(Framework, int(key)) if key.isdigit() else None
    if framework is None:
        framework = session.scalar(select(Framework).where(Framework.key == key.lower(),
                                                           Framework.is_current.is_(True)))
    if framework is None:
        raise NotFound(f"no framework with id or key {key_or_id!r}")
    return framework


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def _refuse(option: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(option, message)])


@assessment_app.command("list")
@domain_errors
def list_cmd(system: SystemOpt = None, framework: FrameworkOpt = None,
             status: Annotated[str | None, typer.Option("--status", help="open, completed or archived")] = None,
             limit: LimitOpt = 200) -> None:
    """List assessments, most recently changed first."""
    with unit_of_work(load_settings(), write=False) as session:
        page = service.list_assessments(
            session, None, PageParams(limit=limit), status=status,
            ai_system_id=find_system(session, system).id if system else None,
            framework_id=find_framework(session, framework).id if framework else None)
        table = Table("id", "title", "AI system", "framework", "status", "completion", "compliance", "due")
        for a in page.items:
            table.add_row(str(a.id), a.title, a.ai_system.name, f"{a.framework.key} {a.framework.version}",
                          ASSESSMENT_STATUSES.get(a.status, a.status), _pct(a.completion), _pct(a.compliance),
                          a.due_date.isoformat() if a.due_date else "-")
    console.print(table)
    console.print(f"{table.row_count} of {page.total} assessments")


@assessment_app.command("start")
@domain_errors
def start(system: Annotated[str, typer.Argument(metavar="SYSTEM", help="an AI system's id or name")],
          framework: Annotated[str, typer.Argument(metavar="FRAMEWORK", help="a framework's id or key")],
          title: Annotated[str, typer.Option("--title", help="defaults to 'framework — system'")] = "",
          owner: Annotated[str | None, typer.Option("--owner", help="the owner's email")] = None,
          due: Annotated[str | None, typer.Option("--due", help="due date, YYYY-MM-DD")] = None) -> None:
    """Start an assessment: applicability rules select the requirements in scope."""
    try:
        due_date = date.fromisoformat(due) if due else None
    except ValueError:
        raise _refuse("due", f"--due must be a date as YYYY-MM-DD, not {due!r}.") from None
    with unit_of_work(load_settings()) as session:
        owner_id = None
        if owner:
            person = find_by_email(session, owner)
            if person is None:
                raise _refuse("owner", f"No person with email {owner!r}.")
            owner_id = person.id
        assessment = service.start(session, None, find_system(session, system).id,
                                   find_framework(session, framework).id, title=title, owner_id=owner_id,
                                   due_date=due_date)
        counts = service.counts(session, assessment.id)
        in_scope = sum(counts[s] for s in RESULT_STATUSES)
        line = (f"Started assessment #{assessment.id} {assessment.title!r}: {in_scope} requirement(s) in scope, "
                f"{counts['out_of_scope']} out of scope, {counts['inferred']} inferred from equivalent "
                "requirements.")
    console.print(line, soft_wrap=True)


@assessment_app.command("show")
@domain_errors
def show(assessment_id: Annotated[int, typer.Argument(metavar="ID", help="the assessment's id")],
         status: Annotated[str | None, typer.Option("--status", help="only results with this status")] = None,
         in_scope_only: Annotated[bool, typer.Option("--in-scope", help="only requirements in scope")] = False,
         ) -> None:
    """Show an assessment and its results in the framework's order."""
    with unit_of_work(load_settings(), write=False) as session:
        a = service.get_assessment(session, None, assessment_id)
        details = Table(show_header=False, box=None)
        for label, text in [
            ("id", str(a.id)), ("title", a.title), ("AI system", a.ai_system.name),
            ("framework", f"{a.framework.name} ({a.framework.version})"),
            ("status", ASSESSMENT_STATUSES.get(a.status, a.status)), ("owner", a.owner.email if a.owner else "-"),
            ("due", a.due_date.isoformat() if a.due_date else "-"), ("completion", _pct(a.completion)),
            ("compliance", _pct(a.compliance)),
        ]:
            details.add_row(f"[bold]{label}[/bold]", text)
        console.print(details)
        results = service.all_results(session, None, a.id, status=status, applicable=True if in_scope_only else None)
        table = Table("ref", "title", "status", "why / notes", title="Requirements")
        for r in results:
            state = RESULT_STATUSES.get(r.status, r.status) if r.applicable else "out of scope"
            if r.inferred_from is not None:
                state += f" (inferred from {r.inferred_from.requirement.framework.key} " \
                         f"{r.inferred_from.requirement.ref})"
            why = r.applicability_reason if not r.applicable else r.justification or r.notes or ""
            table.add_row(r.requirement.ref, r.requirement.title, state, why)
        console.print(table)


@assessment_app.command("gaps")
@domain_errors
def gaps(system: SystemOpt = None, framework: FrameworkOpt = None,
         kind: Annotated[str | None, typer.Option("--kind", help="not_met, overdue or partially_met")] = None,
         limit: LimitOpt = 200) -> None:
    """List gaps: not met, overdue, partially met."""
    with unit_of_work(load_settings(), write=False) as session:
        page = service.gaps(session, None, PageParams(limit=limit), kind=kind,
                            ai_system_id=find_system(session, system).id if system else None,
                            framework_id=find_framework(session, framework).id if framework else None)
        table = Table("gap", "AI system", "framework", "ref", "title", "status", "due")
        for gap in page.items:
            r = gap.result
            table.add_row(service.GAP_KINDS[gap.kind], r.assessment.ai_system.name, r.assessment.framework.key,
                          r.requirement.ref, r.requirement.title, RESULT_STATUSES.get(r.status, r.status),
                          gap.due_date.isoformat() if gap.due_date else "-")
    console.print(table)
    console.print(f"{table.row_count} of {page.total} gaps")
