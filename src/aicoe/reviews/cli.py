"""Review commands: ``aicoe review list | show | overdue``.

Commands act as the system (no signed-in user), so they see every business unit's requests and systems.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.compliance.constants import RISK_TIERS
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.reviews import service
from aicoe.reviews.constants import BOARD_LABELS, DECISIONS, REQUEST_STATUSES

review_app = typer.Typer(help="Board reviews: list and show requests, and the AI systems overdue for re-review.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "-"


@review_app.command("list")
@domain_errors
def list_cmd(status: Annotated[str | None, typer.Option("--status", help="open, approved, approved_with_conditions, "
                                                        "rejected or withdrawn")] = None,
             board: Annotated[str | None, typer.Option("--board", help="ethics_board or steering_committee")] = None,
             limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 200) -> None:
    """List review requests, newest first."""
    with unit_of_work(load_settings(), write=False) as session:
        page = service.list_reviews(session, None, PageParams(limit=limit), status=status, board=board)
        about = service.subjects(session, page.items)
        table = Table("key", "board", "about", "title", "status", "due", "requested")
        for r in page.items:
            table.add_row(r.key, BOARD_LABELS[r.board], about[(r.subject_type, r.subject_id)].label, r.title,
                          REQUEST_STATUSES.get(r.status, r.status), r.due_date.isoformat() if r.due_date else "-",
                          _day(r.created_at))
    console.print(table)
    console.print(f"{table.row_count} of {page.total} review requests")


@review_app.command("show")
@domain_errors
def show(key: Annotated[str, typer.Argument(metavar="KEY", help="a request's key, e.g. REV-0001")]) -> None:
    """Show one request: its subject, approvers, progress, decisions, conditions and comments."""
    with unit_of_work(load_settings(), write=False) as session:
        r = service.get_review(session, None, key)
        p = service.progress(session, r)
        details = Table(show_header=False, box=None)
        for label, text in [
            ("key", r.key), ("title", r.title), ("board", BOARD_LABELS[r.board]),
            ("about", service.subject_of(session, r).label), ("business unit", r.business_unit.name),
            ("status", REQUEST_STATUSES.get(r.status, r.status)),
            ("required approvers", ", ".join(u.full_name for u in r.required_approvers) or "-"),
            ("progress", f"{p.approvals} of {p.quorum} approvals, {p.rejections} rejections, {p.members} members"),
            ("due", r.due_date.isoformat() if r.due_date else "-"),
            ("requested", f"{_day(r.created_at)} by {r.requested_by.full_name if r.requested_by else 'system'}"),
            ("decided", _day(r.decided_at)), ("conditions", r.conditions or "-"), ("description", r.description or "-"),
        ]:
            details.add_row(f"[bold]{label}[/bold]", text)
        console.print(details)
        decisions = Table("member", "decision", "conditions", "comment", "when", title="Decisions")
        for d in r.decisions:
            decisions.add_row(d.user.full_name, DECISIONS.get(d.decision, d.decision), d.conditions or "-",
                              d.comment or "-", _day(d.created_at))
        console.print(decisions)
        comments = Table("who", "comment", "when", title="Comments")
        for c in r.comments:
            comments.add_row(c.user.full_name if c.user else "system", c.body, _day(c.created_at))
        console.print(comments)


@review_app.command("overdue")
@domain_errors
def overdue(today: Annotated[str | None, typer.Option("--today", help="the date to judge by (YYYY-MM-DD); "
                                                       "today when left out")] = None) -> None:
    """The AI systems never approved by their cadence's board, or past their re-review date."""
    try:
        day = date.fromisoformat(today) if today else None
    except ValueError:
        raise ValidationFailed(f"--today {today!r} is not a date",
                               errors=[FieldError("today", "Give the date as YYYY-MM-DD.")]) from None
    with unit_of_work(load_settings(), write=False) as session:
        entries = service.overdue(session, None, today=day)
        table = Table("AI system", "unit", "risk tier", "board", "last approved", "due", "open request")
        for e in entries:
            table.add_row(e.system.name, e.system.business_unit.code,
                          RISK_TIERS.get(e.cadence.risk_tier, e.cadence.risk_tier), BOARD_LABELS[e.cadence.board],
                          f"{e.last_review.key} {e.last_reviewed_on}" if e.last_review else "never",
                          e.next_due.isoformat() if e.next_due else "now", e.open_review or "-")
    console.print(table)
    console.print(f"{len(entries)} AI system{'' if len(entries) == 1 else 's'} overdue for review")
