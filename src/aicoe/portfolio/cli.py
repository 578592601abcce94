"""Use-case commands: ``aicoe usecase list | show | import | export``.

Commands act as the system (no signed-in user), so they see every business unit; writes are audited as such.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.cli.common import console, domain_errors, err_console, load_settings, unit_of_work
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.org import BusinessUnit
from aicoe.portfolio import export, io, usecases, value
from aicoe.portfolio.constants import STAGE_LABELS

usecase_app = typer.Typer(help="Use cases: list, show, import from CSV/XLSX, export.", no_args_is_help=True)

StageOpt = Annotated[str | None, typer.Option("--stage", help="stage, or a comma list of stages")]
UnitOpt = Annotated[str | None, typer.Option("--unit", help="business unit code")]


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


def register(app: typer.Typer) -> None:
    app.add_typer(usecase_app, name="usecase")


def _unit_id(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    unit_id = session.scalar(select(BusinessUnit.id).where(func.lower(BusinessUnit.code) == code.strip().lower()))
    if unit_id is None:
        raise ValidationFailed(f"no business unit with code {code!r}",
                               errors=[FieldError("unit", f"No business unit {code!r}.")])
    return unit_id


def _money(amount: float | None, currency: str) -> str:
    return "-" if amount is None else f"{amount:,.2f} {currency}"


@usecase_app.command("list")
@domain_errors
def list_cmd(stage: StageOpt = None, unit: UnitOpt = None,
             limit: Annotated[int, typer.Option("--limit", min=1, help="rows to show")] = 100) -> None:
    """List use cases, newest first."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        page = usecases.list_use_cases(session, None, PageParams(limit=limit), stage=stage,
                                       business_unit_id=_unit_id(session, unit))
        table = Table("key", "title", "unit", "stage", "score", "expected / year", "realised benefit")
        for uc in page.items:
            table.add_row(uc.key, uc.title, uc.business_unit.code, uc.stage,
                          "-" if uc.score_total is None else f"{uc.score_total:.2f}",
                          _money(uc.expected_benefit_annual, settings.currency),
                          _money(uc.realised_benefit, settings.currency))
    console.print(table)
    console.print(f"{len(page.items)} of {page.total} use cases")


@usecase_app.command("show")
@domain_errors
def show(key: str) -> None:
    """Show one use case with its value figures."""
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        uc = usecases.get_use_case(session, None, key, detail=True)
        s = value.summary(session, None, uc.key, discount_rate=settings.discount_rate, currency=settings.currency)
        table = Table(show_header=False, box=None)
        rows = [
            ("key", uc.key), ("title", uc.title),
            ("business unit", f"{uc.business_unit.name} ({uc.business_unit.code})"),
            ("stage", STAGE_LABELS.get(uc.stage, uc.stage)), ("AI type", uc.ai_type),
            ("owner", uc.owner.email if uc.owner else "-"), ("sponsor", uc.sponsor.email if uc.sponsor else "-"),
            ("score", "-" if uc.score_total is None else f"{uc.score_total:.2f} ({uc.scorer_count} scorers)"),
            ("patterns", ", ".join(p.name for p in uc.patterns) or "-"),
            ("expected benefit", f"{_money(s.expected_annual, s.currency)} a year"),
            ("expected to date", _money(s.expected_to_date, s.currency)),
            ("realised benefit", _money(s.benefits, s.currency)), ("realised cost", _money(s.costs, s.currency)),
            ("ROI", s.notes.get("roi") or f"{s.roi:.1%}"),
            ("payback", s.notes.get("payback_months") or f"{s.payback_months:.1f} months"),
            ("NPV", f"{_money(s.npv, s.currency)} at {s.discount_rate:.1%} a year"),
            ("delivery time", "-" if s.delivery_days is None else f"{s.delivery_days:.1f} days"),
        ]
        for label, text in rows:
            table.add_row(f"[bold]{label}[/bold]", text)
    console.print(table)


@usecase_app.command("import")
@domain_errors
def import_cmd(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
               dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row, write nothing")] = False,
               ) -> None:
    """Import use cases from a CSV or XLSX file: all rows or none. Exits 1 listing every row error."""
    settings = load_settings()
    if file.stat().st_size > io.MAX_BYTES:
        err_console.print(f"[red]The file is larger than {io.MAX_BYTES // (1024 * 1024)} MiB.[/red]")
        raise typer.Exit(1)
    content = file.read_bytes()
    try:
        with unit_of_work(settings) as session:
            report = io.import_file(session, None, content, filename=file.name, dry_run=dry_run)
    except io.ImportRefused as refused:
        report = refused.report
    if not report.ok:
        table = Table("row", "column", "problem")
        for e in report.errors:
            table.add_row(str(e.row), e.column, e.message)
        err_console.print(table)
        err_console.print(f"[red]{len(report.errors)} problem(s); nothing was imported.[/red]")
        raise typer.Exit(1)
    if dry_run:
        console.print(f"All {report.rows} rows pass; nothing was written (dry run).")
    else:
        console.print(f"Imported {len(report.created)} use cases: {', '.join(report.created)}")


@usecase_app.command("export")
@domain_errors
def export_cmd(fmt: Annotated[ExportFormat, typer.Option("--format", help="csv, xlsx or json")] = ExportFormat.csv,
           output: Annotated[Path | None, typer.Option("--output", help="file to write; stdout if left out")] = None,
           stage: StageOpt = None, unit: UnitOpt = None) -> None:
    """Export use cases, one row each (key, title, business unit, stage, ...), by key."""
    if fmt is ExportFormat.xlsx and output is None:
        err_console.print("[red]XLSX is binary: give --output FILE.[/red]")
        raise typer.Exit(2)
    settings = load_settings()
    with unit_of_work(settings, write=False) as session:
        stmt = usecases.order_by(usecases.filtered(usecases.use_cases_query(None), stage=stage,
                                                   business_unit_id=_unit_id(session, unit)), "key")
        rows = export.use_case_rows(session, stmt)
        if fmt is ExportFormat.xlsx:
            assert output is not None
            output.write_bytes(export.xlsx_bytes(rows, io.EXPORT_COLUMNS, sheet="use-cases"))
        else:
            chunks = (export.csv_lines if fmt is ExportFormat.csv else export.json_chunks)(rows, io.EXPORT_COLUMNS)
            if output is None:
                for chunk in chunks:
                    sys.stdout.write(chunk)
                sys.stdout.flush()
            else:
                with output.open("w", encoding="utf-8", newline="") as handle:
                    handle.writelines(chunks)
    if output is not None:
        err_console.print(f"Wrote {output}")
