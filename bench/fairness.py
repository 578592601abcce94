"""Benchmark: the fairness section against Fairlearn's MetricFrame on the same generated prediction log.

For each row count (default 1M and 10M) the same data — binary label and prediction, two sensitive features
(sex: 5 values, race: 4 values, 20 intersections, unbalanced), optional sample weights — is generated from one
seed in a fresh subprocess per side, so each side's peak memory is its own:

* ours, three ways: ``FairnessStats.collect`` + ``finalize`` on the prepared batch (the fairness engine alone,
  with 1,000 bootstrap resamples), the same over 1M-row partitions merged, and ``evaluate()`` end to end on the
  Arrow table (validation, fingerprint and the performance section included — evaluate has no fairness-only
  mode);
* Fairlearn 0.15: a MetricFrame of selection_rate, TPR, FPR, FNR, TNR, precision, accuracy and count, plus the
  six disparity functions (demographic parity, equalized odds, equal opportunity; difference and ratio), each
  with ``between_groups`` and ``to_overall``, on a pandas DataFrame.

It prints the times, the ratio, and peak memory: the process's RSS high-water mark above its RSS before the
call (reset through /proc/self/clear_refs), and the tracemalloc peak from a second, traced run (for Fairlearn only
up to ``--tracemalloc-max-rows``, as tracing slows pandas down). Every group metric and disparity of both sides
is compared to 1e-9 in the same run.

    .venv/bin/python bench/fairness.py [--rows 1000000 10000000] [--weights] [--fairlearn-max-rows N]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SEX = ("female", "male", "non-binary", "other", "undisclosed")
RACE = ("asian", "black", "hispanic", "white")
METRICS = ("selection_rate", "tpr", "fpr", "fnr", "tnr", "precision", "accuracy")
DISPARITIES = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
               "equalized_odds_ratio", "equal_opportunity_difference", "equal_opportunity_ratio")
METHODS = ("between_groups", "to_overall")
TOLERANCE = 1e-9
GOAL_RATIO = 100.0
GOAL_10M_S = 2.0
GOAL_10M_GB = 1.5


def generate(rows: int, weights: bool) -> dict[str, np.ndarray]:
    """The prediction log as numpy arrays; deterministic, so both subprocesses see the same data."""
    rng = np.random.default_rng(20240601)
    sex = rng.choice(len(SEX), rows, p=[0.45, 0.4, 0.08, 0.05, 0.02])
    race = rng.choice(len(RACE), rows, p=[0.15, 0.2, 0.25, 0.4])
    base = 0.25 + 0.05 * sex + 0.04 * race
    y = (rng.random(rows) < base).astype(np.int8)
    yhat = np.where(rng.random(rows) < 0.8 - 0.03 * sex, y, 1 - y).astype(np.int8)
    data = {"y": y, "yhat": yhat, "sex": np.array(SEX)[sex], "race": np.array(RACE)[race]}
    if weights:
        data["w"] = rng.uniform(0.5, 2.0, rows)
    return data


def _rss_kib() -> dict[str, int]:
    status = Path("/proc/self/status").read_text().splitlines()
    return {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmHWM", "VmRSS"))}


def measure(run: Callable[[], Any], traced: bool) -> dict[str, Any]:
    """Wall time and RSS high-water delta of one call; with ``traced``, a second call's tracemalloc peak."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _rss_kib()["VmRSS"]
    started = time.perf_counter()
    value = run()
    seconds = time.perf_counter() - started
    out = {"seconds": seconds, "rss_delta_mb": (_rss_kib()["VmHWM"] - before) / 1024, "value": value,
           "traced_peak_mb": None}
    if traced:
        tracemalloc.start()
        run()
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def ours(rows: int, weights: bool) -> dict[str, Any]:
    import pyarrow as pa

    from aicoe.engines.evaluation import ColumnSpec, Options, evaluate
    from aicoe.engines.evaluation.batch import prepare
    from aicoe.engines.evaluation.fairness import FairnessStats

    data = generate(rows, weights)
    table = pa.table(data)
    del data
    spec = ColumnSpec(label="y", prediction="yhat", sensitive=("sex", "race"), weight="w" if weights else None,
                      task="binary")
    options = Options()
    batch = prepare(table, spec, "binary")

    def engine() -> dict[str, Any]:
        return FairnessStats.collect(batch, options).finalize(options)

    def partitioned() -> dict[str, Any]:
        step = options.partition_rows
        merged = None
        for start in range(0, rows, step):
            part = FairnessStats.collect(prepare(table.slice(start, step), spec, "binary"), options)
            merged = part if merged is None else merged.merge(part)
        return merged.finalize(options)

    def end_to_end() -> dict[str, Any]:
        return evaluate(table, spec, options=options).fairness

    results = {"engine": measure(engine, True), "partitioned": measure(partitioned, False),
               "evaluate": measure(end_to_end, False)}
    section = results["engine"]["value"]
    for entry in results.values():
        entry.pop("value")
    return {**results, "groups": {g["label"]: {m: g[m] for m in METRICS} for g in section["groups"]},
            "disparities": section["disparities"]}


def fairlearn_side(rows: int, weights: bool, traced: bool) -> dict[str, Any]:
    import pandas as pd
    from fairlearn import metrics as flm
    from sklearn.metrics import accuracy_score, precision_score

    data = generate(rows, weights)
    weight = data.pop("w", None)
    frame = pd.DataFrame(data)
    del data
    functions = {"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
                 "fpr": flm.false_positive_rate, "fnr": flm.false_negative_rate, "tnr": flm.true_negative_rate,
                 "precision": precision_score, "accuracy": accuracy_score}
    sensitive = frame[["sex", "race"]]
    params = {name: {"sample_weight": weight} for name in functions}

    def run() -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mf = flm.MetricFrame(metrics={**functions, "count": flm.count}, y_true=frame["y"],
                                 y_pred=frame["yhat"], sensitive_features=sensitive, sample_params=params)
            disparities = {name: {method: float(getattr(flm, name)(frame["y"], frame["yhat"],
                                                                    sensitive_features=sensitive,
                                                                    sample_weight=weight, method=method))
                                  for method in METHODS} for name in DISPARITIES}
        groups = {", ".join(key): {m: float(row[m]) for m in METRICS} for key, row in mf.by_group.iterrows()}
        return {"groups": groups, "disparities": disparities}

    result = measure(run, traced)
    return {"fairlearn": {k: v for k, v in result.items() if k != "value"}, **result["value"]}


def subprocess_json(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def max_relative_error(left: dict[str, Any], right: dict[str, Any]) -> float:
    worst = 0.0
    for label, metrics in right["groups"].items():
        for name, value in metrics.items():
            worst = max(worst, _relative(left["groups"][label][name], value))
    for name, methods in right["disparities"].items():
        for method, value in methods.items():
            worst = max(worst, _relative(left["disparities"][name][method], value))
    return worst


def _relative(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b) / max(abs(b), 1e-12) if abs(a - b) > 1e-12 else 0.0


def _mem(entry: dict[str, Any]) -> str:
    traced = entry["traced_peak_mb"]
    return f"RSS +{entry['rss_delta_mb']:8.1f} MB" + (f", tracemalloc {traced:8.1f} MB" if traced is not None else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--weights", action="store_true", help="weighted rows (uniform 0.5-2.0)")
    parser.add_argument("--fairlearn-max-rows", type=int, default=10_000_000,
                        help="skip Fairlearn above this many rows (our side still runs)")
    parser.add_argument("--tracemalloc-max-rows", type=int, default=200_000,
                        help="trace Fairlearn's allocations only up to this many rows")
    parser.add_argument("--side", choices=["ours", "fairlearn"], help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "ours":
        print(json.dumps(ours(args.rows[0], args.weights)))
        return
    if args.side == "fairlearn":
        print(json.dumps(fairlearn_side(args.rows[0], args.weights, args.traced)))
        return

    flag = ["--weights"] if args.weights else []
    print(f"fairness benchmark: 2 sensitive features (5 x 4 = 20 intersections), "
          f"{'weighted' if args.weights else 'unweighted'}; each side in a fresh process")
    for rows in args.rows:
        mine = subprocess_json("--side", "ours", "--rows", str(rows), *flag)
        print(f"\n{rows:,} rows")
        for key, what in (("engine", "ours: FairnessStats collect+finalize (1,000 bootstrap resamples)"),
                          ("partitioned", "ours: same, 1M-row partitions merged (prepare included)"),
                          ("evaluate", "ours: evaluate() end to end (+ validation, performance)")):
            entry = mine[key]
            print(f"  {what:<68} {entry['seconds']:8.3f} s   {_mem(entry)}")
        if rows == 10_000_000:
            engine = mine["engine"]
            met = engine["seconds"] < GOAL_10M_S and engine["rss_delta_mb"] < GOAL_10M_GB * 1024
            print(f"  goal at 10M rows (< {GOAL_10M_S} s, < {GOAL_10M_GB} GB): {'met' if met else 'NOT met'}")
        if rows > args.fairlearn_max_rows:
            print(f"  fairlearn: skipped (--fairlearn-max-rows {args.fairlearn_max_rows:,})")
            continue
        traced = ["--traced"] if rows <= args.tracemalloc_max_rows else []
        theirs = subprocess_json("--side", "fairlearn", "--rows", str(rows), *flag, *traced)
        entry = theirs["fairlearn"]
        print(f"  {'fairlearn 0.15: MetricFrame (8 metrics) + 6 disparity functions x 2 methods':<68} "
              f"{entry['seconds']:8.3f} s   {_mem(entry)}")
        error = max_relative_error(mine, theirs)
        ratio = entry["seconds"] / mine["engine"]["seconds"]
        print(f"  speed-up (fairlearn / ours engine): {ratio:,.0f}x   "
              f"(vs evaluate(): {entry['seconds'] / mine['evaluate']['seconds']:,.0f}x)")
        print(f"  agreement: max relative difference {error:.2e} "
              f"({'OK' if error <= TOLERANCE else 'MISMATCH'} at {TOLERANCE:g})")
        if rows == 1_000_000:
            print(f"  goal >= {GOAL_RATIO:.0f}x at 1M rows: {'met' if ratio >= GOAL_RATIO else 'NOT met'}")
        if error > TOLERANCE:
            sys.exit(1)


if __name__ == "__main__":
    main()
