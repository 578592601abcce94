"""``aicoe audit verify`` and ``aicoe audit export``: the ledger from the command line, read directly.

These commands read the database named by the settings (``AICOE_DATABASE_URL``); whoever can run them can read
the database anyway, so they check no role. Neither writes anything.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from aicoe.audit import ledger, service
from aicoe.cli.common import console, err_console, load_settings, unit_of_work
from aicoe.core.errors import DomainError
from aicoe.models.audit import AuditHead


class Format(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


app = typer.Typer(help="Verify and export the hash-chained audit ledger.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit", help="Verify and export the audit ledger.")


@contextmanager
def progress_bar(label: str, total: int | None, console: Console) -> Iterator[Callable[[int], None]]:
    """A live bar on a terminal; nothing at all when the output is piped or captured."""
    if not console.is_terminal:
        yield lambda _done: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


@app.command()
def verify() -> None:
    """Walk the whole chain and report the first broken link; exit code 1 when the chain is broken."""
    with unit_of_work(load_settings(), write=False) as session:
        head = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
        started = time.perf_counter()
        with progress_bar("Verifying", head, console) as progress:
            result = ledger.verify(session, progress=progress)
        elapsed = time.perf_counter() - started
    rate = f"{result.checked / elapsed:,.0f} events/s" if elapsed > 0 and result.checked else "—"
    timing = f"in {elapsed:.2f} s ({rate})"
    if result.ok:
        console.print(f"[green]Chain intact:[/green] {result.checked:,} events verified, "
                      f"head is event {result.head_seq:,}, {timing}.", soft_wrap=True)
        console.print(f"head hash: {result.head_hash}", soft_wrap=True, highlight=False)
        return
    console.print(f"[red]Chain broken at event {result.broken_seq:,}:[/red] {result.reason}.", soft_wrap=True)
    console.print(f"{result.checked:,} events verified before it; the recorded head is event "
                  f"{result.head_seq:,}; {timing}.", soft_wrap=True)
    raise typer.Exit(1)


def _instant(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date or time", param_hint=option) from None


@app.command()
def export(
    format: Annotated[Format, typer.Option("--format", "-f", help="csv or jsonl")] = Format.csv,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="file to write; standard output if omitted", dir_okay=False)] = None,
    entity_type: Annotated[str | None, typer.Option(help="exact entity type")] = None,
    entity_id: Annotated[str | None, typer.Option(help="exact entity id")] = None,
    actor: Annotated[str | None, typer.Option(help="actor id, or part of the actor's label")] = None,
    action: Annotated[str | None, typer.Option(help="exact action")] = None,
    since: Annotated[str | None, typer.Option("--from", help="at or after (ISO 8601; UTC if naive)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="before (ISO 8601; UTC if naive)")] = None,
) -> None:
    """Write the matching events, oldest first, as CSV or JSON lines (streamed: any size fits in memory)."""
    fmt: Literal["csv", "jsonl"] = "csv" if format is Format.csv else "jsonl"
    try:
        filters = service.AuditFilters(entity_type=entity_type, entity_id=entity_id, actor=actor,
                                       action=action, since=_instant(since, "--from"),
                                       until=_instant(until, "--to"))
    except DomainError as exc:
        raise typer.BadParameter(exc.detail, param_hint="--to") from None
    count = 0

    def counted(done: int) -> None:
        nonlocal count
        count = done

    with unit_of_work(load_settings(), write=False) as session:
        chunks = service.export_text(session, filters, fmt, progress=counted)
        if output is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
        else:
            with output.open("w", encoding="utf-8", newline="") as fh:
                fh.writelines(chunks)
    where = f" to {output}" if output else ""
    err_console.print(f"Exported {count:,} events{where}.", soft_wrap=True)
