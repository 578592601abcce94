"""Benchmark: lineage impact queries over a generated inventory of 10,000 assets.

Fills a fresh, migrated database with vendors, datasets, models (foundation models from vendors, then models
fine-tuned or derived from them in chains up to eight deep, each trained, fine-tuned, evaluated or retrieving on
one to three datasets), AI systems (using one to three models, some a dataset directly, some naming vendors)
and their deployments, about 10,000 rows of assets in all plus their links. Then it times the service functions
the API routes call, ``--runs`` times each with a fresh session per run and the subject rotating at random:

* dataset -> production systems: ``lineage.dataset_impact(..., status="in_production")``;
* vendor -> dependants: ``lineage.vendor_impact`` (models, derived models, systems, deployments);
* system lineage: ``lineage.system_lineage`` (models, base chain, datasets, vendors, deployments);

and prints the median, the 95th percentile and the verdict against the 100 ms target, the largest answer seen,
the peak Python heap of one call and the process's peak RSS.

    .venv/bin/python bench/lineage.py [--assets N] [--runs N] \
        [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres] [--no-sqlite]

With ``--postgres`` the same is measured on a scratch database created on that server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aicoe.core import migrate
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.inventory import lineage
from aicoe.models.inventory import (
    AISystem,
    Dataset,
    Deployment,
    Model,
    ModelDataset,
    SystemDataset,
    SystemModel,
    Vendor,
    ai_system_vendors,
)
from aicoe.models.org import BusinessUnit

TARGET_MS = 100.0
UNITS = 12
SHARES = {"vendors": 0.02, "datasets": 0.28, "models": 0.40, "systems": 0.20, "deployments": 0.10}
STATUSES = ("in_development", "in_validation", "in_production", "retired")
STATUS_WEIGHTS = (0.3, 0.15, 0.45, 0.1)
PURPOSES = ("train", "fine_tune", "evaluate", "retrieval")
MAX_DEPTH = 8


def plan(assets: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Rows for every table, ids assigned here so links can be drawn before inserting."""
    n = {k: max(1, round(assets * share)) for k, share in SHARES.items()}
    unit = lambda: rng.randint(1, UNITS)  # noqa: E731
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "units", "vendors", "datasets", "models", "model_datasets", "systems", "system_models", "system_datasets",
        "system_vendors", "deployments")}
    rows["units"] = [{"id": i, "code": f"U{i:02d}", "name": f"Unit {i}", "description": ""}
                     for i in range(1, UNITS + 1)]
    rows["vendors"] = [{"id": i, "name": f"Vendor {i}", "type": "model_provider" if i % 3 else "data_provider",
                        "status": "active"} for i in range(1, n["vendors"] + 1)]
    data_vendors = [v["id"] for v in rows["vendors"] if v["type"] == "data_provider"]
    model_vendors = [v["id"] for v in rows["vendors"] if v["type"] == "model_provider"]
    for i in range(1, n["datasets"] + 1):
        bought = data_vendors and rng.random() < 0.15
        rows["datasets"].append({"id": i, "name": f"dataset-{i}", "business_unit_id": unit(),
                                 "source": "vendor" if bought else "internal",
                                 "vendor_id": rng.choice(data_vendors) if bought else None})
    depth: dict[int, int] = {}
    for i in range(1, n["models"] + 1):
        foundation = i <= max(1, n["models"] // 10)
        candidates = [m for m in range(max(1, i - 400), i) if depth.get(m, MAX_DEPTH) < MAX_DEPTH]
        base = None if foundation or not candidates or rng.random() < 0.2 else rng.choice(candidates)
        depth[i] = 0 if base is None else depth[base] + 1
        rows["models"].append({"id": i, "name": f"model-{i}", "version": "1",
                               "kind": "open_weights" if foundation else "fine_tuned" if base else "in_house",
                               "business_unit_id": unit(), "base_model_id": base,
                               "vendor_id": rng.choice(model_vendors) if foundation else None})
        for purpose, dataset in {(rng.choice(PURPOSES), rng.randint(1, n["datasets"]))
                                 for _ in range(rng.randint(1, 3))}:
            rows["model_datasets"].append({"model_id": i, "dataset_id": dataset, "purpose": purpose})
    for i in range(1, n["systems"] + 1):
        rows["systems"].append({"id": i, "name": f"AI system {i}", "business_unit_id": unit(),
                                "ai_type": "predictive_ml", "lifecycle_status": rng.choices(STATUSES,
                                                                                           STATUS_WEIGHTS)[0]})
        for model in set(rng.sample(range(1, n["models"] + 1), rng.randint(1, 3))):
            rows["system_models"].append({"ai_system_id": i, "model_id": model, "role": ""})
        if rng.random() < 0.3:
            rows["system_datasets"].append({"ai_system_id": i, "dataset_id": rng.randint(1, n["datasets"]),
                                            "purpose": "retrieval corpus"})
        if rng.random() < 0.2:
            rows["system_vendors"].append({"ai_system_id": i, "vendor_id": rng.randint(1, n["vendors"])})
    for i in range(1, n["deployments"] + 1):
        rows["deployments"].append({"id": i, "ai_system_id": rng.randint(1, n["systems"]),
                                    "environment": rng.choice(("dev", "staging", "production")), "status": "active"})
    return rows


TABLES = {"units": BusinessUnit.__table__, "vendors": Vendor.__table__, "datasets": Dataset.__table__,
          "models": Model.__table__, "model_datasets": ModelDataset.__table__, "systems": AISystem.__table__,
          "system_models": SystemModel.__table__, "system_datasets": SystemDataset.__table__,
          "system_vendors": ai_system_vendors, "deployments": Deployment.__table__}


def fill(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for name, table in TABLES.items():
            if rows[name]:
                conn.execute(insert(table), rows[name])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for name in ("business_units", "vendors", "datasets", "models", "ai_systems", "deployments"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT max(id) FROM {name}))"))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def timed(maker: Callable[[], Session], call: Callable[[Session, int], Any], subjects: list[int], runs: int,
          rng: random.Random) -> tuple[list[float], int]:
    times, largest = [], 0
    for _ in range(runs):
        subject = rng.choice(subjects)
        with maker() as session:
            start = time.perf_counter()
            result = call(session, subject)
            times.append((time.perf_counter() - start) * 1000)
        size = len(result.nodes) if isinstance(result, lineage.Lineage) else len(result.systems)
        largest = max(largest, size)
    return times, largest


def traced_peak(maker: Callable[[], Session], call: Callable[[Session, int], Any], subject: int) -> int:
    gc.collect()
    tracemalloc.start()
    with maker() as session:
        call(session, subject)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def measure(label: str, url: str, assets: int, runs: int, seed: int) -> bool:
    rng = random.Random(seed)
    rows = plan(assets, rng)
    started = time.perf_counter()
    fill(url, rows)
    total = sum(len(rows[k]) for k in ("vendors", "datasets", "models", "systems", "deployments"))
    links = sum(len(rows[k]) for k in ("model_datasets", "system_models", "system_datasets", "system_vendors"))
    print(f"\n== {label}: {total:,} assets, {links:,} links (filled in {time.perf_counter() - started:.1f} s)")
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    with maker() as session:
        used = sorted(set(session.scalars(select(ModelDataset.dataset_id))))
    cases: list[tuple[str, Callable[[Session, int], Any], list[int]]] = [
        ("dataset -> production systems",
         lambda s, i: lineage.dataset_impact(s, None, i, status="in_production"), used),
        ("vendor -> dependants", lambda s, i: lineage.vendor_impact(s, None, i), [v["id"] for v in rows["vendors"]]),
        ("system lineage", lambda s, i: lineage.system_lineage(s, None, i), [r["id"] for r in rows["systems"]]),
    ]
    ok = True
    for name, call, subjects in cases:
        call(maker(), subjects[0])  # warm the connection pool and statement caches
        times, largest = timed(maker, call, subjects, runs, rng)
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
        median = statistics.median(times)
        verdict = "OK" if p95 < TARGET_MS else "TOO SLOW"
        ok &= p95 < TARGET_MS
        peak = traced_peak(maker, call, subjects[len(subjects) // 2])
        print(f"{name:32} median {median:6.1f} ms   p95 {p95:6.1f} ms   max {max(times):6.1f} ms   "
              f"[{verdict} vs {TARGET_MS:.0f} ms]   largest answer {largest}   heap {peak / 2**20:.1f} MiB")
    engine.dispose()
    return ok


def run_postgres(admin_url: str, assets: int, runs: int, seed: int) -> bool:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"aicoe_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        return measure("PostgreSQL", url, assets, runs, seed)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=10_000, help="vendors + datasets + models + systems + "
                        "deployments (default 10,000)")
    parser.add_argument("--runs", type=int, default=50, help="timed calls per query (default 50)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", metavar="URL", help="also measure on a scratch database on this server")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    args = parser.parse_args(argv)
    if args.assets < 100 or args.runs < 1:
        parser.error("--assets must be at least 100 and --runs at least 1")
    ok = True
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="aicoe-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'lineage.db'}"
            migrate.upgrade(url)
            ok &= measure("SQLite", url, args.assets, args.runs, args.seed)
    if args.postgres:
        ok &= run_postgres(args.postgres, args.assets, args.runs, args.seed)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (whole run, including the fill): {rss:.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
