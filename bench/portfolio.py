"""Benchmark: the pipeline list and the portfolio dashboard over 100,000 use cases and 1,000,000 value entries.

Fills a fresh, migrated database (bulk insert: executemany on SQLite, COPY on PostgreSQL) with a realistic
portfolio: twelve business units of uneven size, use cases spread over every stage, scores on those past the
idea stage (ties included), production dates, and value entries month by month for the use cases in pilot,
production or retirement, with each use case's ``realised_benefit`` / ``realised_cost`` equal to the sum of its
entries, as the value service keeps them. Then it times the same service functions the API routes call:

* pipeline: ``pipeline.ranking`` filtered by stage and business unit, sorted by score, one page of 50;
* use-case list: ``usecases.list_use_cases`` filtered by stage and unit, sorted by ``-score_total``;
* dashboard: ``dashboard.dashboard`` CoE-wide, and for a reader scoped to three business units;
* the two API routes end to end (in-process HTTP, bearer token): ``GET /api/v1/pipeline`` and
  ``GET /api/v1/portfolio/dashboard``;

``--runs`` times each (a fresh session per run, filters rotating over stages and units), and prints the median,
the 95th percentile and the verdict against the 200 ms target, plus the peak Python heap of one call and the
process's peak RSS.

    .venv/bin/python bench/portfolio.py [--use-cases N] [--entries N] [--runs N] \
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aicoe.app import create_app
from aicoe.auth import service as auth_service
from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core import migrate
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.core.pagination import PageParams
from aicoe.models.org import RoleAssignment, User
from aicoe.portfolio import dashboard as board
from aicoe.portfolio import finance, pipeline, usecases
from aicoe.portfolio.constants import AI_TYPES, VALUE_KINDS

TARGET_MS = 200.0
UNITS = 12
PAGE = 50
START = datetime(2021, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
STAGE_SHARES = {"idea": 0.28, "qualified": 0.14, "prioritised": 0.12, "proof_of_concept": 0.10, "pilot": 0.08,
                "production": 0.14, "retired": 0.04, "rejected": 0.07, "on_hold": 0.03}
VALUE_STAGES = frozenset({"pilot", "production", "retired"})
COST_KINDS = [k for k in VALUE_KINDS if k.startswith("cost_")]
BENEFIT_KINDS = [k for k in VALUE_KINDS if k.startswith("benefit_")]
UC_COLUMNS = ("id", "key", "title", "problem_statement", "opportunity_statement", "business_unit_id", "owner_id",
              "affected_users", "data_needed", "personal_data", "ai_type", "delivery_rationale",
              "build_cost_estimate", "run_cost_estimate", "stage", "stage_before_hold", "stage_entered_at",
              "submitted_at", "production_at", "expected_benefit_annual", "realised_benefit", "realised_cost",
              "score_total", "score_value", "score_feasibility", "score_spread", "scorer_count", "created_at",
              "updated_at")
VE_COLUMNS = ("use_case_id", "period", "kind", "amount", "quantity", "note", "created_at")


# --- generating ----------------------------------------------------------------------------------------------------

def _stamp(value: datetime | None, sqlite: bool) -> str | None:
    """A datetime as each backend stores it: SQLAlchemy's SQLite text, or ISO 8601 for COPY."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value.isoformat()


def plan_portfolio(n_cases: int, n_entries: int, rng: random.Random) -> tuple[list[dict[str, Any]], list[int]]:
    """The use cases (as dicts, realised totals still zero) and how many value entries each gets."""
    weights = [1 / (i + 1) for i in range(UNITS)]  # a few big units, a long tail of small ones
    stages, shares = zip(*STAGE_SHARES.items(), strict=True)
    cases = []
    for i in range(1, n_cases + 1):
        stage = rng.choices(stages, shares)[0]
        submitted = START + timedelta(days=rng.uniform(0, 1700))
        scored = stage not in ("idea", "rejected") or rng.random() < 0.2
        value = round(rng.uniform(1, 5), 1) if scored else None  # one decimal: plenty of ties
        feasibility = round(rng.uniform(1, 5), 1) if scored else None
        production = None
        if stage in ("production", "retired") or (stage == "on_hold" and rng.random() < 0.1):
            production = submitted + timedelta(days=rng.uniform(60, 420))
        entered = (production or submitted) + timedelta(days=rng.uniform(0, 200))
        cases.append({
            "id": i, "key": usecases.format_key(i), "title": f"Use case {i}: {rng.choice(TOPICS)}",
            "business_unit_id": rng.choices(range(1, UNITS + 1), weights)[0], "owner_id": rng.randint(1, 50),
            "ai_type": rng.choice(list(AI_TYPES)), "stage": stage,
            "stage_before_hold": rng.choice(("qualified", "prioritised", "proof_of_concept", "pilot"))
            if stage == "on_hold" else None,
            "submitted_at": submitted, "production_at": production, "stage_entered_at": min(entered, NOW),
            "expected_benefit_annual": float(rng.randrange(0, 500_000, 500)),
            "build_cost_estimate": float(rng.randrange(10_000, 400_000, 1000)),
            "run_cost_estimate": float(rng.randrange(1_000, 80_000, 500)),
            "score_value": value, "score_feasibility": feasibility,
            "score_total": None if value is None else round((value + feasibility) / 2, 2),
            "score_spread": None if value is None else round(rng.uniform(0, 1.5), 2),
            "scorer_count": rng.randint(1, 5) if scored else 0,
            "realised_benefit": 0.0, "realised_cost": 0.0,
        })
    valued = [c for c in cases if c["stage"] in VALUE_STAGES]
    counts = [0] * (n_cases + 1)
    for _ in range(n_entries):
        counts[rng.choice(valued)["id"]] += 1
    return cases, counts


TOPICS = ("claims triage", "fraud detection", "document summarisation", "churn prediction", "demand forecast",
          "customer-service assistant", "invoice matching", "route optimisation", "contract review", "code review")


def case_entries(case: dict[str, Any], count: int, seed: int) -> Iterator[tuple[str, str, float]]:
    """One use case's ``count`` entries as (period, kind, amount), month by month from its start (two months of
    build before production); the same every time for the same seed."""
    rng = random.Random(seed * 1_000_003 + case["id"])
    start = finance.month_start((case["production_at"] or case["submitted_at"]).date())
    for j in range(count):
        kind = rng.choice(COST_KINDS) if j % 4 == 0 or j < 4 else rng.choice(BENEFIT_KINDS)
        yield finance.add_months(start, j // 4 - 2).isoformat(), kind, round(rng.uniform(100, 20_000), 2)


def settle_totals(cases: list[dict[str, Any]], counts: list[int], seed: int) -> None:
    """Set each use case's realised totals to the sum of its entries, rounded to the cent after each entry as
    the value service does, before the use cases are inserted (their entries go in after them)."""
    for case in cases:
        benefit = cost = 0.0
        for _, kind, amount in case_entries(case, counts[case["id"]], seed):
            if kind.startswith("cost_"):
                cost = round(cost + amount, 2)
            else:
                benefit = round(benefit + amount, 2)
        case["realised_benefit"], case["realised_cost"] = benefit, cost


def entry_rows(cases: list[dict[str, Any]], counts: list[int], seed: int, created: str | None,
               ) -> Iterator[tuple[Any, ...]]:
    for case in cases:
        for period, kind, amount in case_entries(case, counts[case["id"]], seed):
            yield (case["id"], period, kind, amount, None, "", created)


def uc_row(case: dict[str, Any], sqlite: bool) -> tuple[Any, ...]:
    values = {**case, "problem_statement": "Work that takes too long.", "opportunity_statement": "Faster.",
              "affected_users": "", "data_needed": "", "personal_data": False, "delivery_rationale": "",
              "created_at": case["submitted_at"], "updated_at": case["stage_entered_at"]}
    out = []
    for column in UC_COLUMNS:
        v = values[column]
        if isinstance(v, datetime):
            v = _stamp(v, sqlite)
        elif isinstance(v, bool) and sqlite:
            v = int(v)
        out.append(v)
    return tuple(out)


def _batched(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _units_and_people(sqlite: bool) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    now = _stamp(NOW, sqlite)
    units = [(i, f"BU{i:02d}", f"Business unit {i}", "", now, now) for i in range(1, UNITS + 1)]
    people = [(i, f"owner{i}@example.com", f"Owner {i}", "", (i % UNITS) + 1, True, now, now)
              for i in range(1, 51)]
    return units, people


UNIT_SQL = "INSERT INTO business_units (id, code, name, description, created_at, updated_at) VALUES ({})"
PEOPLE_SQL = ("INSERT INTO users (id, email, full_name, title, business_unit_id, is_active, created_at, updated_at) "
              "VALUES ({})")


def fill_sqlite(url: str, n_cases: int, n_entries: int, seed: int) -> None:
    import sqlite3

    cases, counts = plan_portfolio(n_cases, n_entries, random.Random(seed))
    settle_totals(cases, counts, seed)
    conn = sqlite3.connect(make_url(url).database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    units, people = _units_and_people(True)
    conn.executemany(UNIT_SQL.format(", ".join("?" * 6)), units)
    conn.executemany(PEOPLE_SQL.format(", ".join("?" * 8)), people)
    uc_sql = f"INSERT INTO use_cases ({', '.join(UC_COLUMNS)}) VALUES ({', '.join('?' * len(UC_COLUMNS))})"
    for batch in _batched((uc_row(c, True) for c in cases), 20_000):
        conn.executemany(uc_sql, batch)
    ve_sql = f"INSERT INTO value_entries ({', '.join(VE_COLUMNS)}) VALUES ({', '.join('?' * len(VE_COLUMNS))})"
    for batch in _batched(entry_rows(cases, counts, seed, _stamp(NOW, True)), 50_000):
        conn.executemany(ve_sql, batch)
    conn.execute("INSERT INTO counters (name, value) VALUES ('use_case', ?)", (n_cases,))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def fill_postgres(url: str, n_cases: int, n_entries: int, seed: int) -> None:
    cases, counts = plan_portfolio(n_cases, n_entries, random.Random(seed))
    settle_totals(cases, counts, seed)
    engine = create_engine(url)
    units, people = _units_and_people(False)
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for table, columns, rows in (
                ("business_units", ("id", "code", "name", "description", "created_at", "updated_at"), units),
                ("users", ("id", "email", "full_name", "title", "business_unit_id", "is_active", "created_at",
                           "updated_at"), people)):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        with cursor.copy(f"COPY use_cases ({', '.join(UC_COLUMNS)}) FROM STDIN") as copy:
            for case in cases:
                copy.write_row(uc_row(case, False))
        with cursor.copy(f"COPY value_entries ({', '.join(VE_COLUMNS)}) FROM STDIN") as copy:
            for row in entry_rows(cases, counts, seed, _stamp(NOW, False)):
                copy.write_row(row)
        for table in ("business_units", "users", "use_cases", "value_entries"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        conn.execute(text("INSERT INTO counters (name, value) VALUES ('use_case', :n)"), {"n": n_cases})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


# --- measuring -----------------------------------------------------------------------------------------------------

@dataclass
class Timing:
    label: str
    ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def line(self) -> str:
        verdict = "well under" if self.median < TARGET_MS / 2 else ("under" if self.median < TARGET_MS else "OVER")
        return (f"   {self.label:<46} median {self.median:7.1f} ms   p95 {self.p95:7.1f} ms   "
                f"max {max(self.ms):7.1f} ms   -> {verdict} the {TARGET_MS:.0f} ms target")


FILTER_STAGES = ("qualified", "prioritised", "proof_of_concept", "pilot")


def _combos(runs: int) -> list[tuple[str, int, int]]:
    """(stage, unit, offset) per run: every stage and unit in turn, first pages mostly, some deep pages."""
    return [(FILTER_STAGES[i % 4], i % UNITS + 1, PAGE * (i % 3) * (5 if i % 7 == 0 else 1)) for i in range(runs)]


def timed(factory: Callable[[], Session], call: Callable[[Session, int], Any], runs: int, label: str) -> Timing:
    with factory() as session:
        call(session, 0)  # warm the caches once, as a running server would be
    times = []
    for i in range(runs):
        with factory() as session:
            started = time.perf_counter()
            call(session, i)
            times.append((time.perf_counter() - started) * 1000)
    return Timing(label, times)


def heap_peak(factory: Callable[[], Session], call: Callable[[Session, int], Any]) -> float:
    with factory() as session:
        gc.collect()
        tracemalloc.start()
        call(session, 0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20


def _scoped_reader() -> Principal:
    user = User(id=0, email="reader@example.com", full_name="Reader")
    return Principal(user=user, grants={"use_case:read": frozenset({2, 5, 9})})


def measure(label: str, url: str, n_cases: int, n_entries: int, fill: Callable[[str, int, int, int], None], *,
            runs: int, seed: int) -> list[Timing]:
    print(f"\n== {label}: {n_cases:,} use cases, {n_entries:,} value entries")
    started = time.perf_counter()
    fill(url, n_cases, n_entries, seed)
    print(f"   filled in {time.perf_counter() - started:.1f} s")
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    combos = _combos(runs)
    reader = _scoped_reader()

    def ranking(s: Session, i: int) -> Any:
        stage, unit, offset = combos[i % len(combos)]
        return pipeline.ranking(s, None, PageParams(limit=PAGE, offset=offset), stage=[stage], business_unit_id=unit)

    def listing(s: Session, i: int) -> Any:
        stage, unit, offset = combos[i % len(combos)]
        return usecases.list_use_cases(s, None, PageParams(limit=PAGE, offset=offset, sort="-score_total"),
                                       stage=[stage], business_unit_id=unit)

    checks: list[Timing] = []
    try:
        with factory() as s:
            page = ranking(s, 0)
            d = board.dashboard(s, None)
            sums = s.execute(text("SELECT (SELECT round(sum(amount)::numeric, 2) FROM value_entries) AS v, "
                                  "(SELECT round((sum(realised_benefit) + sum(realised_cost))::numeric, 2) "
                                  "FROM use_cases) AS u") if engine.dialect.name == "postgresql" else text(
                "SELECT (SELECT round(sum(amount), 2) FROM value_entries), "
                "(SELECT round(sum(realised_benefit) + sum(realised_cost), 2) FROM use_cases)")).one()
        print(f"   check: pipeline page of {len(page.items)} (of {page.total:,} matching); dashboard total "
              f"{d.total:,}, delivered {d.delivered:,}, median delivery {d.median_delivery_days} days; "
              f"entries sum {float(sums[0]):,.2f} = realised columns {float(sums[1]):,.2f}")
        checks = [
            timed(factory, ranking, runs, "pipeline (stage + unit, by score, page of 50)"),
            timed(factory, listing, runs, "use-case list (stage + unit, -score_total)"),
            timed(factory, lambda s, i: board.dashboard(s, None), runs, "dashboard (CoE-wide)"),
            timed(factory, lambda s, i: board.dashboard(s, reader), runs, "dashboard (reader of 3 units)"),
        ]
        checks += api_timings(url, combos, runs)
        for timing in checks:
            print(timing.line())
        print(f"   peak Python heap: pipeline {heap_peak(factory, ranking):.1f} MiB, dashboard "
              f"{heap_peak(factory, lambda s, i: board.dashboard(s, None)):.1f} MiB (tracemalloc, one call)")
        return checks
    finally:
        engine.dispose()


def api_timings(url: str, combos: list[tuple[str, int, int]], runs: int) -> list[Timing]:
    """The two routes end to end through the app (in-process HTTP, token auth, JSON rendering)."""
    with tempfile.TemporaryDirectory(prefix="aicoe-bench-app-") as tmp:
        settings = Settings(env="test", data_dir=Path(tmp), database_url=url, secret_key="b" * 48, job_workers=0,
                            log_level="WARNING")
        app = create_app(settings)
        with app.state.sessionmaker() as session:
            user = User(email="bench-admin@example.com", full_name="Bench admin")
            user.roles = [RoleAssignment(role="admin")]
            session.add(user)
            session.flush()
            secret = auth_service.create_token(session, None, user, name="bench", scopes=[], expires_at=None).secret
            session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        with TestClient(app) as client:
            def get(path: str) -> Callable[[Any, int], Any]:
                def call(_: Any, i: int) -> Any:
                    stage, unit, offset = combos[i % len(combos)]
                    response = client.get(path.format(stage=stage, unit=unit, offset=offset), headers=headers)
                    assert response.status_code == 200, response.text
                return call

            no_session = _NoSession
            return [
                timed(no_session, get("/api/v1/pipeline?stage={stage}&business_unit_id={unit}&limit=50"
                                      "&offset={offset}"), runs, "GET /api/v1/pipeline (stage + unit)"),
                timed(no_session, get("/api/v1/portfolio/dashboard"), runs, "GET /api/v1/portfolio/dashboard"),
            ]


class _NoSession:
    """Stands in for a session factory where the call goes through HTTP and opens its own."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def run_postgres(admin_url: str, n_cases: int, n_entries: int, *, runs: int, seed: int) -> list[Timing]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"aicoe_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        return measure("PostgreSQL", url, n_cases, n_entries, fill_postgres, runs=runs, seed=seed)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--use-cases", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--entries", type=int, default=1_000_000, help="value entries, default 1,000,000")
    parser.add_argument("--runs", type=int, default=50, help="timed calls per measurement (default 50)")
    parser.add_argument("--postgres", metavar="URL", help="also measure on a scratch database on this server")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.use_cases < 100 or args.entries < 0 or args.runs < 1:
        parser.error("--use-cases must be at least 100, --entries not negative, --runs at least 1")

    results: list[Timing] = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="aicoe-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'portfolio.db'}"
            migrate.upgrade(url)
            results += measure("SQLite", url, args.use_cases, args.entries, fill_sqlite, runs=args.runs,
                               seed=args.seed)
    if args.postgres:
        results += run_postgres(args.postgres, args.use_cases, args.entries, runs=args.runs, seed=args.seed)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (whole run, including the fill): {rss:.0f} MiB")
    over = [t.label for t in results if t.median >= TARGET_MS]
    print("all medians under the 200 ms target" if not over else f"OVER the target: {', '.join(over)}")
    return 0 if not over else 1


if __name__ == "__main__":
    sys.exit(main())

