"""Benchmark: evaluating a partitioned Parquet dataset of ``--rows`` prediction-log rows (default 100M) with bounded
memory, on one process, on ``--workers`` local processes, and on a local Ray instance.

Generates the dataset on disk under a temporary directory in chunks (one row group of ``--chunk-rows`` at a time,
``--file-rows`` per file), so generation is bounded in memory too. Columns: y, yhat, score (rounded to 4 decimals,
as scoring systems commonly log them: exact ROC/PR AUC keep one entry per distinct score), sex (5 groups) and race
(4 groups) as sensitive features, weight, region (segment), three numeric and two categorical features. With
``--reference-rows`` (default 1M, 0 to skip) a shifted reference dataset is written as well and drift is computed.

Each evaluation runs in a fresh child process (so one run's memory never counts against another) and reports
rows/s, the child's peak RSS (``resource.getrusage``: itself and its waited-for children) and the peak RSS of its
whole process tree sampled from /proc every 0.2 s (for Ray: the driver plus raylet, GCS and the workers). The
results of all runs are compared: identical apart from ``elapsed_s`` and ``engine``.

    .venv/bin/python bench/scale.py [--rows N] [--workers N] [--partition-rows N] [--no-ray] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SPEC = {"label": "y", "prediction": "yhat", "scores": ["score"], "sensitive": ["sex", "race"], "weight": "weight",
        "segment": "region", "features": ["age", "income", "tenure", "channel", "device"]}
PAGE = os.sysconf("SC_PAGE_SIZE")
SCORE_DECIMALS = 4  # exact ROC/PR AUC keep one entry per distinct score: logged scores are rounded like this


def chunk(rows: int, rng: np.random.Generator, shift: float) -> pa.Table:
    """``rows`` synthetic prediction-log rows; ``shift`` moves the features (a drifted reference)."""
    sex = rng.integers(0, 5, rows)
    race = rng.integers(0, 4, rows)
    score = np.round(np.clip(rng.beta(2, 3, rows) + 0.03 * sex - 0.02 * race + shift, 0, 1), SCORE_DECIMALS)
    return pa.table({
        "y": (rng.random(rows) < score).astype(np.int8), "yhat": (score > 0.5).astype(np.int8), "score": score,
        "sex": pa.DictionaryArray.from_arrays(sex.astype(np.int32), ["a", "b", "c", "d", "e"]),
        "race": pa.DictionaryArray.from_arrays(race.astype(np.int32), ["w", "x", "y", "z"]),
        "weight": rng.random(rows) + 0.5,
        "region": pa.DictionaryArray.from_arrays(rng.integers(0, 3, rows).astype(np.int32), ["n", "s", "e"]),
        "age": np.round(rng.normal(40 + 10 * shift, 12, rows), 1),
        "income": np.round(rng.lognormal(10 + shift, 0.5, rows), 0),
        "tenure": rng.integers(0, 120, rows),
        "channel": pa.DictionaryArray.from_arrays(rng.integers(0, 4, rows).astype(np.int32), ["web", "app", "branch",
                                                                                                "phone"]),
        "device": pa.DictionaryArray.from_arrays(rng.integers(0, 3, rows).astype(np.int32), ["ios", "android",
                                                                                               "desktop"])})


def generate(root: Path, rows: int, file_rows: int, chunk_rows: int, seed: int, shift: float) -> float:
    """Write the dataset as ``part-NNNNN.parquet`` files; returns the seconds it took."""
    started, rng, written, index = time.perf_counter(), np.random.default_rng(seed), 0, 0
    root.mkdir(parents=True, exist_ok=True)
    while written < rows:
        in_file = min(file_rows, rows - written)
        writer = None
        done = 0
        while done < in_file:
            table = chunk(min(chunk_rows, in_file - done), rng, shift)
            writer = writer or pq.ParquetWriter(root / f"part-{index:05d}.parquet", table.schema)
            writer.write_table(table, row_group_size=chunk_rows)
            done += table.num_rows
        assert writer is not None
        writer.close()
        written += in_file
        index += 1
    return time.perf_counter() - started


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)], rss[int(entry)] = int(fields[1]), int(fields[21]) * PAGE
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(p, 0) for p in tree)


def run_child(args: argparse.Namespace) -> None:
    """One evaluation (in this process): prints a JSON line with timings, memory and the result."""
    from aicoe.engines.evaluation import ColumnSpec, Options, evaluate

    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], tree_rss(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    engine = "ray" if args.child == "ray" else "local"
    workers = 1 if args.child == "local" else args.workers
    if engine == "ray":
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    options = Options(partition_rows=args.partition_rows, bootstrap=args.bootstrap)
    reference = args.reference if args.reference else None
    started = time.perf_counter()
    result = evaluate(args.data, ColumnSpec.from_dict(SPEC), reference=reference, options=options, engine=engine,
                      workers=workers)
    seconds = time.perf_counter() - started
    peak[0] = max(peak[0], tree_rss(os.getpid()))
    stop.set()
    data = result.to_dict()
    print(json.dumps({"seconds": seconds, "rows": data["rows"], "engine": data["engine"],
                      "self_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "children_maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
                      "tree_peak": peak[0], "result": data}))


def measure(mode: str, data: Path, reference: Path | None, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--data", str(data), "--workers", str(args.workers),
               "--partition-rows", str(args.partition_rows), "--bootstrap", str(args.bootstrap)]
    if reference is not None:
        command += ["--reference", str(reference)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("elapsed_s", "engine")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--reference-rows", type=int, default=1_000_000)
    parser.add_argument("--file-rows", type=int, default=5_000_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--partition-rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory and keep it")
    parser.add_argument("--child", choices=["local", "processes", "ray"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--reference", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="aicoe-scale-", dir="/tmp"))
    data, reference = root / "current", root / "reference" if args.reference_rows else None
    try:
        if not data.exists():
            took = generate(data, args.rows, args.file_rows, args.chunk_rows, args.seed, 0.0)
            if reference is not None:
                generate(reference, args.reference_rows, args.file_rows, args.chunk_rows, args.seed + 1, 0.1)
            size = sum(p.stat().st_size for p in data.iterdir())
            print(f"generated {args.rows:,} rows in {took:.1f} s: {size / 1e9:.2f} GB of Parquet under {data}")
        modes = ["local", "processes"] + ([] if args.no_ray else ["ray"])
        results = {}
        for mode in modes:
            got = measure(mode, data, reference, args)
            results[mode] = got
            rows = got["rows"] + (args.reference_rows if reference is not None else 0)
            print(f"{got['engine']:>12}: {got['seconds']:7.1f} s  {rows / got['seconds'] / 1e6:6.2f} M rows/s  "
                  f"peak RSS {got['self_maxrss'] / 2**20:6.0f} MiB (process), "
                  f"{got['tree_peak'] / 2**20:6.0f} MiB (process tree, sampled)", flush=True)
        first = comparable(results[modes[0]]["result"])
        same = all(comparable(r["result"]) == first for r in results.values())
        print(f"results identical across {', '.join(modes)}: {same}")
        if not same:
            raise SystemExit(1)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
