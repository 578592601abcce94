"""Benchmark: data drift on 1M rows x 20 columns (15 numeric, 5 categorical), ours vs Evidently's DataDriftPreset.

Generates a reference and a current Parquet file once (under ``--dir``, default /tmp/aicoe-bench-drift; five
numeric and two categorical columns of the current data are shifted), then measures, each in its own process so
peak memory is its own:

* ours, end to end: ``evaluate(current, ColumnSpec(features=...), reference=...)`` from
  ``aicoe.engines.evaluation.engine`` (when that module exists), timed from reading the Parquet files to the
  finished result;
* ours, the statistics alone: ``DriftStats.collect`` on both tables + ``drift_section``, on tables read before
  the clock starts;
* Evidently 0.7.x: ``Report([DataDriftPreset()]).run(...)`` in its own virtual environment
  (``bench/.venv-evidently``, created on first run: Evidently pins its own pandas), timed around the report
  computation only (the Parquet files are read into pandas before the clock starts).

Prints both times (wall-clock and CPU: the CPU seconds are steadier on a shared machine), the ratio, the peak
RSS of each process and both drift shares (Evidently takes minutes, so it runs once unless ``--evidently-runs``).

    .venv/bin/python bench/drift.py [--rows 1000000] [--dir /tmp/aicoe-bench-drift] [--runs 3] [--no-evidently]
        [--evidently-runs 1] [--evidently-venv bench/.venv-evidently]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = {"num_00", "num_03", "num_06", "num_09", "num_12", "cat_0", "cat_3"}
VENV = Path(__file__).resolve().parent / ".venv-evidently"
REQUIREMENTS = ["evidently==0.7.*", "pandas>=2.2,<3"]
MODES = {"engine": "evaluate() on the Parquet files, reading included",
         "statistics": "DriftStats.collect + drift_section on tables already read"}

EVIDENTLY_DRIVER = """
import json, resource, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
folder, numeric, categorical = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
ref = pd.read_parquet(folder + "/reference.parquet")
cur = pd.read_parquet(folder + "/current.parquet")
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
start, cpu = time.perf_counter(), time.process_time()
result = Report([DataDriftPreset()]).run(current_data=Dataset.from_pandas(cur, data_definition=definition),
                                         reference_data=Dataset.from_pandas(ref, data_definition=definition))
values = result.dict()["metrics"]
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
share = next(m["value"]["share"] for m in values if m["metric_name"].startswith("DriftedColumnsCount"))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"elapsed_s": elapsed, "cpu_s": cpu, "peak_rss_mb": peak, "drift_share": share}))
"""


def _column(rng: np.random.Generator, i: int, rows: int, shifted: bool) -> np.ndarray:
    """Numeric columns of several shapes: normal, log-normal, uniform, integer-valued and coarsely rounded."""
    shift = 0.25 if shifted else 0.0
    shape = i % 5
    if shape == 0:
        values = rng.normal(shift, 1.0, rows)
    elif shape == 1:
        values = rng.lognormal(shift, 0.75, rows)
    elif shape == 2:
        values = rng.uniform(shift, 1.0 + shift, rows)
    elif shape == 3:
        values = rng.integers(18, 91, rows).astype(np.float64) + (8.0 if shifted else 0.0)
    else:
        values = np.round(rng.normal(100.0 + 10 * shift, 15.0, rows), 1)
    values[rng.random(rows) < 0.01] = np.nan           # 1% missing
    return values


def _categories(rng: np.random.Generator, i: int, rows: int, shifted: bool) -> pa.Array:
    levels = np.array([f"level_{k:02d}" for k in range(3 + 9 * i)])
    weights = np.linspace(1.0, 2.0, levels.size)
    if shifted:
        weights = weights[::-1] ** 2
    codes = rng.choice(levels.size, rows, p=weights / weights.sum())
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(levels)).cast(pa.string())


def generate(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed, current in (("reference", 1, False), ("current", 2, True)):
        path = folder / f"{name}.parquet"
        if path.exists() and pq.read_metadata(path).num_rows == rows:
            continue
        rng = np.random.default_rng(seed)
        columns = {c: _column(rng, i, rows, current and c in SHIFTED) for i, c in enumerate(NUMERIC)}
        columns.update({c: _categories(rng, i, rows, current and c in SHIFTED) for i, c in enumerate(CATEGORICAL)})
        pq.write_table(pa.table(columns), path)


def ours(folder: Path, mode: str) -> dict[str, object]:
    """Drift of current vs reference by our engine, in a child process. ``engine``: ``evaluate`` on the Parquet
    files, reading included; ``statistics``: ``DriftStats.collect`` + ``drift_section`` on tables read before the
    clock starts (like for like with the Evidently driver)."""
    from aicoe.engines.evaluation.drift import DriftStats, drift_section
    from aicoe.engines.evaluation.spec import ColumnSpec, Options

    options = Options()
    if mode == "engine":
        from aicoe.engines.evaluation.engine import evaluate

        start, cpu = time.perf_counter(), time.process_time()
        spec = ColumnSpec(features=tuple(NUMERIC + CATEGORICAL))
        drift = evaluate(str(folder / "current.parquet"), spec, reference=str(folder / "reference.parquet"),
                         options=options).drift
    else:
        kinds = {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")}
        tables = [pq.read_table(folder / f"{name}.parquet") for name in ("reference", "current")]
        start, cpu = time.perf_counter(), time.process_time()
        reference, current = (DriftStats.collect(table, kinds, options) for table in tables)
        drift = drift_section(reference, current, options)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"elapsed_s": elapsed, "cpu_s": cpu, "peak_rss_mb": peak, "drift_share": drift["drift_share"],
            "drifted": sorted(f["feature"] for f in drift["features"] if f["drifted"])}


def _ensure_evidently(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} (Evidently and the pandas it supports)...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def _child(command: list[str]) -> dict[str, object]:
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _best(runs: list[dict[str, object]]) -> dict[str, object]:
    return min(runs, key=lambda r: r["elapsed_s"])  # type: ignore[arg-type,return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/aicoe-bench-drift"))
    parser.add_argument("--runs", type=int, default=3, help="runs of ours; the fastest is reported")
    parser.add_argument("--evidently-runs", type=int, default=1, help="runs of Evidently (minutes each)")
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--evidently-venv", type=Path, default=VENV, help="where Evidently's environment lives")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(ours(args.dir, args.child)))
        return
    generate(args.dir, args.rows)
    print(f"data: {args.rows:,} rows x {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical columns, "
          f"reference and current in {args.dir}; shifted: {', '.join(sorted(SHIFTED))}")
    modes = MODES if importlib.util.find_spec("aicoe.engines.evaluation.engine") else MODES[1:]
    mine = {}
    for mode in modes:
        command = [sys.executable, __file__, "--child", mode, "--dir", str(args.dir)]
        mine[mode] = result = _best([_child(command) for _ in range(args.runs)])
        print(f"ours, {MODES[mode]}: {result['elapsed_s']:.2f} s (CPU {result['cpu_s']:.2f} s), "
              f"peak RSS {result['peak_rss_mb']:.0f} MB, drift share {result['drift_share']:.2f} "
              f"(drifted: {', '.join(result['drifted'])})")  # type: ignore[arg-type]
    if args.no_evidently:
        return
    python = _ensure_evidently(args.evidently_venv)
    command = [str(python), "-c", EVIDENTLY_DRIVER, str(args.dir), ",".join(NUMERIC), ",".join(CATEGORICAL)]
    theirs = _best([_child(command) for _ in range(args.evidently_runs)])
    print(f"evidently, DataDriftPreset report on pandas frames already read: {theirs['elapsed_s']:.2f} s "
          f"(CPU {theirs['cpu_s']:.2f} s), peak RSS {theirs['peak_rss_mb']:.0f} MB, "
          f"drift share {theirs['drift_share']:.2f}")
    for mode, result in mine.items():
        ratio = theirs["elapsed_s"] / result["elapsed_s"]  # type: ignore[operator]
        cpu_ratio = theirs["cpu_s"] / result["cpu_s"]  # type: ignore[operator]
        print(f"ratio ({mode}): {ratio:.1f}x faster wall-clock, {cpu_ratio:.1f}x less CPU (goal >= 10x): "
              f"{'PASS' if ratio >= 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
