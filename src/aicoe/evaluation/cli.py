"""``aicoe evaluate PREDICTIONS...``: performance, fairness and drift of prediction logs, from the command line.

Reads the files directly (no database) and prints JSON, Rich tables or the HTML report. The exit code is the
gate for CI pipelines: 0 when the evaluation ran and every policy check passed (or there is no policy), 1 when a
policy check failed, 2 for bad input or usage (the engine's message on stderr, no traceback).
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from aicoe.cli.common import EngineChoice, console, err_console
from aicoe.engines.evaluation.engine import evaluate as run_evaluation
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.policy import Policy, load_policy, load_template, templates
from aicoe.engines.evaluation.report import render_html
from aicoe.engines.evaluation.result import EvaluationResult
from aicoe.engines.evaluation.spec import ColumnSpec, Options

# Below this many rows an evaluation finishes before a bar would be worth drawing.
PROGRESS_MIN_ROWS = 1_000_000
POLICY_AND_TEMPLATE = "give --policy or --policy-template, not both"
DASH = "\u2014"


class OutputFormat(StrEnum):
    json = "json"
    table = "table"
    html = "html"


class TaskChoice(StrEnum):
    auto = "auto"
    binary = "binary"
    multiclass = "multiclass"
    regression = "regression"


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


@contextmanager
def _progress(out: Console) -> Iterator[Callable[[int, int | None], None]]:
    """A row progress bar on stderr, drawn only on a terminal and only once the input is known to be large."""
    if not out.is_terminal:
        yield lambda _done, _total: None
        return
    with ExitStack() as stack:
        bars: list[tuple[Progress, TaskID]] = []

        def update(done: int, total: int | None) -> None:
            if not bars:
                if max(done, total or 0) < PROGRESS_MIN_ROWS:
                    return
                columns = (TextColumn("Evaluating"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                           TimeElapsedColumn())
                bar = stack.enter_context(Progress(*columns, console=out, transient=True))
                bars.append((bar, bar.add_task("evaluate", total=total)))
            bar, task = bars[0]
            bar.update(task, completed=done, total=total)

        yield update


def _policy(path: Path | None, template: str | None) -> Policy | None:
    if path is not None and template is not None:
        raise EvaluationError(POLICY_AND_TEMPLATE)
    if template is not None:
        return load_template(template)
    return load_policy(path) if path is not None else None


def evaluate(
    predictions: Annotated[list[Path], typer.Argument(help="prediction logs: CSV, TSV, Parquet, Arrow files or "
                                                      "directories of them", exists=True)],
    label: Annotated[str | None, typer.Option("--label", help="the true label column")] = None,
    prediction: Annotated[str | None, typer.Option("--prediction", help="the predicted label column")] = None,
    score: Annotated[list[str] | None, typer.Option("--score", help="score/probability column (binary: "
                                                    "P(y = 1); multiclass: one per class, in --class order)")
                     ] = None,
    sensitive: Annotated[list[str] | None, typer.Option("--sensitive", help="sensitive feature column "
                                                        "(repeat for intersections)")] = None,
    weight: Annotated[str | None, typer.Option("--weight", help="sample weight column")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="report performance per value of this "
                                                "column")] = None,
    timestamp: Annotated[str | None, typer.Option("--timestamp", help="timestamp column (for --window)")] = None,
    window: Annotated[str | None, typer.Option("--window", help="drift per time window, e.g. 1D, 7D, 1M")] = None,
    feature: Annotated[list[str] | None, typer.Option("--feature", help="compare only these columns for drift "
                                                      "(default: every column the spec does not name)")] = None,
    task: Annotated[TaskChoice, typer.Option("--task", help="auto decides from the label column")
                    ] = TaskChoice.auto,
    classes: Annotated[list[str] | None, typer.Option("--class", help="the classes, in order (multiclass)")
                       ] = None,
    reference: Annotated[Path | None, typer.Option("--reference", exists=True, help="reference data for "
                                                   "drift")] = None,
    policy: Annotated[Path | None, typer.Option("--policy", exists=True, dir_okay=False, help="a YAML policy "
                                                "file")] = None,
    policy_template: Annotated[str | None, typer.Option("--policy-template", help="a built-in policy: "
                                                        + ", ".join(templates()))] = None,
    min_group_size: Annotated[int, typer.Option("--min-group-size", min=0, help="flag smaller groups")
                              ] = Options.min_group_size,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help="resamples for confidence intervals "
                                           "(0: none)")] = Options.bootstrap,
    seed: Annotated[int, typer.Option("--seed", help="random seed for the bootstrap")] = Options.seed,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="json, table or html")
                             ] = OutputFormat.json,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the result to this file")] = None,
    engine: Annotated[EngineChoice, typer.Option("--engine", help="local (processes) or ray (a Ray cluster)")
                      ] = EngineChoice.local,
    workers: Annotated[int, typer.Option("--workers", min=1, help="local processes")] = 1,
) -> None:
    """Evaluate prediction logs: performance, fairness by sensitive feature, drift against a reference, and a
    policy's checks (exit 1 when one fails)."""
    spec = ColumnSpec(label=label, prediction=prediction, scores=tuple(score or ()),
                      sensitive=tuple(sensitive or ()), weight=weight, timestamp=timestamp, segment=segment,
                      features=tuple(feature) if feature else None, task=task.value, classes=tuple(classes or ()))
    options = Options(min_group_size=min_group_size, bootstrap=bootstrap, seed=seed, drift_window=window)
    data: Path | list[Path] = predictions[0] if len(predictions) == 1 else predictions
    try:
        checked = _policy(policy, policy_template)
        with _progress(err_console) as progress:
            result = run_evaluation(data, spec, reference=reference, policy=checked, options=options,
                                    engine=engine.value, workers=workers, progress=progress)
    except EvaluationError as exc:
        err_console.print(f"[red]Cannot evaluate:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    _write(result, output_format, output)
    if result.passed is False:
        raise typer.Exit(1)


def _write(result: EvaluationResult, output_format: OutputFormat, output: Path | None) -> None:
    document = result.to_dict()
    if output_format is OutputFormat.table:
        if output is None:
            _print_tables(document, console)
            return
        with output.open("w", encoding="utf-8") as file:
            _print_tables(document, Console(file=file, width=160, no_color=True))
        return
    if output_format is OutputFormat.html:
        text = render_html(document)
    else:
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _fmt(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(escape(_fmt(cell)) for cell in row))
    return table


def _metrics(entry: dict[str, Any]) -> list[str]:
    return [k for k, v in entry.items() if k not in ("count", "weight", "undefined") and not isinstance(v, bool)
            and (v is None or isinstance(v, int | float))]


def _print_tables(result: dict[str, Any], out: Console) -> None:
    """Performance, groups, disparities, drift and checks; undefined values as a dash, their reasons below."""
    notes: list[str] = []
    performance = result.get("performance")
    if performance:
        overall = performance["overall"]
        names = _metrics(overall)
        rows = [["overall", overall.get("count"), *(overall.get(n) for n in names)]]
        rows += [[label, seg.get("count"), *(seg.get(n) for n in names)]
                 for label, seg in (performance.get("by_segment") or {}).items()]
        out.print(_table(f"Performance ({performance['task']})", ["", "count", *names], rows))
        notes += [f"{name}: {reason}" for name, reason in (overall.get("undefined") or {}).items()]
    fairness = result.get("fairness")
    if fairness:
        names = _metrics(fairness["overall"])
        rows = [[g["label"] + (" (small)" if g.get("small") else ""), g.get("count"), *(g.get(n) for n in names)]
                for g in fairness.get("groups") or []]
        out.print(_table("Groups (" + " × ".join(fairness["features"]) + ")", ["group", "count", *names], rows))
        rows = [[name, d.get("between_groups"), d.get("to_overall")]
                for name, d in (fairness.get("disparities") or {}).items()]
        four = fairness.get("four_fifths") or {}
        if four:
            rows.append(["four_fifths_ratio", four.get("ratio"), "passes" if four.get("passes") else "fails"])
        out.print(_table("Disparities", ["metric", "between groups", "to overall"], rows))
        notes += [f"{g['label']}: {name}: {reason}" for g in fairness.get("groups") or []
                  for name, reason in (g.get("undefined") or {}).items()]
        notes += [f"{name}: {reason}" for name, reason in (fairness.get("undefined") or {}).items()]
    drift = result.get("drift")
    if drift:
        entries = [*(drift.get("features") or []), *(drift[k] for k in ("prediction", "score") if drift.get(k))]
        rows = [[f["feature"], f.get("method"), f.get("statistic"), f.get("p_value"), f.get("threshold"),
                 "DRIFTED" if f.get("drifted") else "stable", f.get("psi")] for f in entries]
        out.print(_table(f"Drift: share {_fmt(drift.get('drift_share'))}, dataset drift "
                         f"{_fmt(drift.get('dataset_drift'))}",
                         ["feature", "method", "statistic", "p-value", "threshold", "verdict", "psi"], rows))
        notes += [f"{name}: {reason}" for name, reason in (drift.get("undefined") or {}).items()]
    checks = result.get("checks") or []
    if checks:
        rows = [["PASS" if c["passed"] else "FAIL", c["description"], c.get("value"),
                 f"{c['comparator']} {_fmt(c['threshold'])}",
                 ", ".join(f"{f['group']} ({_fmt(f['value'])})" for f in c.get("failing") or []),
                 c.get("reason") or ""] for c in checks]
        out.print(_table("Policy checks", ["result", "check", "value", "threshold", "failing", "reason"], rows))
    for note in notes:
        out.print(f"{DASH} {escape(note)}", soft_wrap=True, highlight=False)
    verdict = {None: "no policy", True: "every policy check passed", False: "a policy check failed"}
    out.print(f"{result['rows']:,} rows, fingerprint {result['fingerprint'][:16]}…, {verdict[result['passed']]}",
              soft_wrap=True, highlight=False)
