"""Policy commands: ``aicoe policy list | show | remind``.

Commands act as the system (no signed-in user), so they see every policy, draft or not, and every person.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aicoe.cli.common import console, domain_errors, load_settings, unit_of_work
from aicoe.core.pagination import PageParams
from aicoe.policy import reminders, service

policy_app = typer.Typer(help="Policies: list them, show one with its attestation progress, send reminders.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


@policy_app.command("list")
@domain_errors
def list_cmd(status: Annotated[str | None, typer.Option("--status", help="draft, active or retired")] = None,
             limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 200) -> None:
    """List policies by key."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        page = service.list_policies(session, None, PageParams(limit=limit), status=status)
        table = Table("key", "title", "status", "in force", "owner", "next review")
        for policy in page.items:
            current = service.current_version(policy)
            due = " (due)" if service.review_due(policy) else ""
            table.add_row(policy.key, policy.title, service.POLICY_STATUSES.get(policy.status, policy.status),
                          f"v{current.version} since {current.effective_date}" if current else "-",
                          policy.owner.full_name if policy.owner else "-",
                          f"{policy.next_review_on}{due}" if policy.next_review_on else "-")
    console.print(table)
    console.print(f"{table.row_count} of {page.total} policies")


@policy_app.command("show")
@domain_errors
def show(key: Annotated[str, typer.Argument(metavar="KEY", help="a policy key, e.g. POL-001")]) -> None:
    """Show a policy: details, versions and attestation progress per business unit."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        policy = service.get_policy(session, None, key)
        current = service.current_version(policy)
        status = service.attestation_status(session, None, key)
        details = Table(show_header=False, box=None)
        for label, text in [
            ("Policy", f"{policy.key} {policy.title}"), ("Status", service.POLICY_STATUSES[policy.status]),
            ("Owner", policy.owner.full_name if policy.owner else "-"),
            ("In force", f"version {current.version} since {current.effective_date}" if current else "-"),
            ("Review", f"every {policy.review_cycle_months} months; next {policy.next_review_on or '-'}"),
            ("Versions", ", ".join(f"v{v.version} {v.status}" for v in service.visible_versions(None, policy)) or "-"),
        ]:
            details.add_row(f"[bold]{label}[/bold]", text)
        units = Table("business unit", "requested", "attested", "pending", "overdue", "rate",
                      title="Attestations of the version in force")
        for unit in [*status.units, status.totals]:
            units.add_row(unit.business_unit, str(unit.requested), str(unit.attested), str(unit.pending),
                          str(unit.overdue), f"{unit.rate:.0%}")
    console.print(details)
    console.print(units)


@policy_app.command("remind")
@domain_errors
def remind() -> None:
    """Remind people whose attestations fall due within 7 days or are overdue (at most once every 3 days)."""
    settings = load_settings()
    with unit_of_work(settings) as session:
        run = reminders.send_reminders(session)
    console.print(run.summary.capitalize())
