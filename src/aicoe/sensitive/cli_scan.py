"""``aicoe scan PATH...``: find personal data and secrets in files and directory trees, from the command line.

Reads the files directly (no database); prints a table, JSON or SARIF. The exit code is the gate for CI
pipelines: 0 when nothing at or above ``--fail-on`` was found, 1 when something was, 2 for a usage error.
Only locations and counts are printed, never a found value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from aicoe.cli.common import EngineChoice, console, err_console
from aicoe.engines.sensitive.analyzer import DEFAULT_MIN_SCORE, default_analyzer
from aicoe.engines.sensitive.sarif import to_sarif
from aicoe.engines.sensitive.scanner import DEFAULT_MAX_SAMPLES, EngineUnavailable, ScanResult, scan_paths
from aicoe.sensitive.compiled import keep_compiled_filters

# Below this many bytes a scan finishes before a bar would be worth drawing.
PROGRESS_MIN_BYTES = 16 << 20
UNKNOWN_ENTITY = "unknown entity type {entity!r}; supported: {supported}"
EMPTY_ENTITIES = "name at least one entity type"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)


def _entities(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(dict.fromkeys(part.strip().upper() for part in value.split(",") if part.strip()))
    if not names:
        raise typer.BadParameter(EMPTY_ENTITIES, param_hint="--entities")
    supported = default_analyzer().entities
    for name in names:
        if name not in supported:
            raise typer.BadParameter(UNKNOWN_ENTITY.format(entity=name, supported=", ".join(supported)),
                                     param_hint="--entities")
    return names


@contextmanager
def _progress(console: Console) -> Iterator[Callable[[int, int], None]]:
    """A byte progress bar on stderr, drawn only on a terminal and only once the input is known to be large."""
    if not console.is_terminal:
        yield lambda _done, _total: None
        return
    with ExitStack() as stack:
        bars: list[tuple[Progress, TaskID]] = []

        def update(done: int, total: int) -> None:
            if not bars:
                if total < PROGRESS_MIN_BYTES:
                    return
                columns = (TextColumn("Scanning"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
                bar = stack.enter_context(Progress(*columns, console=console, transient=True))
                bars.append((bar, bar.add_task("scan", total=total)))
            bar, task = bars[0]
            bar.update(task, completed=done, total=total)

        yield update


def scan(
    paths: Annotated[list[Path], typer.Argument(help="files or directories (scanned recursively)", exists=True)],
    entities: Annotated[str | None, typer.Option("--entities", help="comma-separated entity types, e.g. "
                                                 "EMAIL_ADDRESS,US_SSN (default: all)")] = None,
    sample: Annotated[int | None, typer.Option("--sample", min=1, help="scan N rows per file, chosen uniformly "
                                               "at random (default: every row)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="random seed for --sample")] = 0,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="table, json or sarif")] = OutputFormat.table,
    workers: Annotated[int, typer.Option("--workers", min=1, help="local processes")] = 1,
    engine: Annotated[EngineChoice, typer.Option("--engine", help="local (processes) or ray (a Ray cluster)")
                      ] = EngineChoice.local,
    fail_on: Annotated[Severity, typer.Option("--fail-on", help="exit 1 when a finding has this severity or "
                                              "worse")] = Severity.high,
    min_score: Annotated[float, typer.Option("--min-score", min=0.0, max=1.0, help="lowest score "
                                             "reported")] = DEFAULT_MIN_SCORE,
    max_file_size: Annotated[int | None, typer.Option("--max-file-size", min=1, metavar="BYTES",
                                                      help="skip files larger than this")] = None,
    max_samples: Annotated[int, typer.Option("--max-samples", min=0, help="locations kept per finding")
                           ] = DEFAULT_MAX_SAMPLES,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the report to this file")] = None,
) -> None:
    """Scan files and directories for personal data and secrets (CSV, TSV, Parquet, JSON Lines, JSON, Excel,
    text, and their .gz forms)."""
    wanted = _entities(entities)
    keep_compiled_filters()
    try:
        with _progress(err_console) as progress:
            result = scan_paths(paths, entities=wanted, min_score=min_score, sample=sample, seed=seed,
                                max_samples=max_samples, max_file_bytes=max_file_size, workers=workers,
                                engine=engine.value, progress=progress)
    except EngineUnavailable as exc:
        err_console.print(f"[red]Cannot scan:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    _write(result, output_format, output)
    if result.at_or_above(fail_on.value):
        raise typer.Exit(1)


def _write(result: ScanResult, output_format: OutputFormat, output: Path | None) -> None:
    if output_format is OutputFormat.table:
        if output is None:
            _print_tables(result, console)
            return
        with output.open("w", encoding="utf-8") as file:
            _print_tables(result, Console(file=file, width=160, no_color=True))
        return
    document = result.as_dict() if output_format is OutputFormat.json else to_sarif(result)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


_KEEP_WHOLE = frozenset({"entity", "severity", "count", "score", "label", "status", "share of rows"})


def _table(title: str, *headers: str) -> Table:
    """A table that never cuts a path or an entity name short: names stay whole, paths and reasons fold."""
    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold", no_wrap=header in _KEEP_WHOLE)
    return table


def _print_tables(result: ScanResult, out: Console) -> None:
    summary: dict[str, Any] = result.summary
    if result.findings:
        table = _table("Findings", "file", "where", "entity", "severity", "count", "score", "first rows")
        for group in result.findings:
            where = " / ".join(part for part in (group.table, group.column) if part) or "text"
            rows = ", ".join(str(location.row) for location in group.samples[:5])
            table.add_row(group.path, where, group.entity, group.severity, f"{group.count:,}",
                          f"{group.max_score:.2f}", rows)
        out.print(table)
    labelled = [(c, c.profile.label(result.label_threshold)) for c in result.columns]
    labelled = [(c, label) for c, label in labelled if label is not None]
    if labelled:
        table = _table("Column classification", "file", "column", "label", "share of rows")
        for column, label in labelled:
            name = " / ".join(part for part in (column.table, column.profile.name) if part)
            table.add_row(column.path, name, label, f"{column.profile.shares()[label]:.1%}")
        out.print(table)
    for report in result.files:
        if report.sample is not None:
            bound = report.sample["prevalence_upper_95"]
            note = "every row read" if bound == 0.0 else (f"an entity type not seen is in < {bound:.2%} of rows "
                                                         "(95% confidence)" if bound is not None else "no rows")
            out.print(f"sampled {report.sample['rows']:,} of {report.sample['rows_total']:,} rows in "
                      f"{report.path}: {note}", soft_wrap=True, highlight=False)
    if summary["skipped"]:
        table = _table("Not scanned in full", "file", "status", "reason")
        for skipped in summary["skipped"]:
            table.add_row(skipped["path"], skipped["status"], skipped["reason"])
        out.print(table)
    run = summary["run"]
    counts = ", ".join(f"{entity} {count:,}" for entity, count in summary["by_entity"].items()) or "none"
    out.print(f"{summary['files_scanned']} files scanned, {summary['files_partial']} partly, "
              f"{summary['files_skipped']} skipped; {summary['rows']:,} rows, {summary['cells']:,} cells, "
              f"{summary['bytes']:,} bytes in {run['elapsed_s']:.2f} s; findings: {counts}",
              soft_wrap=True, highlight=False)
