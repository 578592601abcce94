"""Benchmark: verify a hash-chained audit ledger of one million events.

Fills a fresh, migrated database with N chained events (bulk-inserted with the real hashes from
``ledger.event_hash``; going through ``append`` would measure appends, not verification), then times
``ledger.verify`` and reports events per second and the memory verification needed.

    .venv/bin/python bench/audit_verify.py [--events N] [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]

With ``--postgres`` the same is measured on a scratch database created on that server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aicoe.audit import ledger
from aicoe.core import migrate
from aicoe.core.db import make_engine, make_sessionmaker
from aicoe.core.time import isoformat
from aicoe.models.audit import GENESIS_HASH

COLUMNS = ("seq", "ts", "actor_type", "actor_id", "actor_label", "action", "entity_type", "entity_id",
           "diff", "request_id", "prev_hash", "hash")
ACTIONS = ("create", "update", "delete", "login", "decide")
ENTITIES = ("business_unit", "user", "use_case", "model", "assessment", "job")
START = datetime(2024, 1, 1, tzinfo=UTC)


def chained_rows(count: int, *, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    """Realistic events (a few fields of diff, an e-mail actor, a request id) with a correct hash chain.

    ``ts`` is yielded as the text each backend stores: SQLite's ``YYYY-MM-DD HH:MM:SS.ffffff`` (what SQLAlchemy
    writes) or ISO 8601 with ``Z`` for PostgreSQL's COPY.
    """
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        ts = START + timedelta(milliseconds=seq * 37)
        canonical_ts = isoformat(ts)
        actor_id = str(seq % 97 + 1)
        fields = (
            seq, canonical_ts, "user", actor_id, f"person{actor_id}@example.com", ACTIONS[seq % 5],
            ENTITIES[seq % 6], str(seq // 3 + 1),
            ledger.canonical_json({"name": [f"Old name {seq}", f"New name {seq}"], "status": ["draft", "active"],
                                   "score": [seq % 11, seq % 13]}),
            uuid.UUID(int=seq).hex, prev,
        )
        digest = ledger.event_hash(*fields)
        stored_ts = canonical_ts[:10] + " " + canonical_ts[11:26] if sqlite else canonical_ts
        yield (seq, stored_ts, *fields[2:], digest)
        prev = digest


def batched(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def fill_sqlite(url: str, count: int) -> str:
    """Insert with executemany in one transaction; returns the head hash."""
    import sqlite3

    conn = sqlite3.connect(make_url(url).database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    placeholders = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    head = GENESIS_HASH
    for batch in batched(chained_rows(count, sqlite=True), 20_000):
        conn.executemany(sql, batch)
        head = batch[-1][-1]
    conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (count, head))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return head


def fill_postgres(url: str, count: int) -> str:
    """Load with COPY (the fast path PostgreSQL offers for bulk data); returns the head hash."""
    engine = create_engine(url)
    head = GENESIS_HASH
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in chained_rows(count, sqlite=False):
                copy.write_row(row)
                head = row[-1]
        conn.execute(text("UPDATE audit_head SET seq = :n, hash = :h WHERE id = 1"), {"n": count, "h": head})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE audit_events"))
    engine.dispose()
    return head


def timed_verify(url: str, repeat: int) -> tuple[ledger.VerifyResult, list[float]]:
    """Seconds per pass, ``repeat`` passes on one engine (the first also warms the page cache)."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    times: list[float] = []
    try:
        for _ in range(repeat):
            with factory() as session:
                started = time.perf_counter()
                result = ledger.verify(session)
                times.append(time.perf_counter() - started)
        return result, times
    finally:
        engine.dispose()


def plain_scan(url: str, repeat: int) -> float:
    """The peer figure: best time to merely fetch the same rows in the same order, checking nothing."""
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    best = float("inf")
    try:
        for _ in range(repeat):
            with engine.connect() as conn, conn.begin():
                dbapi = conn.connection.driver_connection
                cursor = dbapi.cursor(name="bench_scan") if postgres else dbapi.cursor()
                started = time.perf_counter()
                cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_events ORDER BY seq")
                while cursor.fetchmany(2000):
                    pass
                best = min(best, time.perf_counter() - started)
                cursor.close()
        return best
    finally:
        engine.dispose()


def traced_peak(url: str) -> int:
    """Peak Python heap while verifying (a separate, slower pass: tracing costs time)."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            gc.collect()
            tracemalloc.start()
            ledger.verify(session)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return peak
    finally:
        engine.dispose()


def measure(label: str, url: str, count: int, fill: Callable[[str, int], str], *, repeat: int,
            memory: bool) -> bool:
    print(f"\n== {label}: {count:,} events")
    started = time.perf_counter()
    fill(url, count)
    print(f"   filled in {time.perf_counter() - started:.1f} s")
    result, times = timed_verify(url, repeat)
    status = "ok" if result.ok else f"BROKEN at {result.broken_seq}: {result.reason}"
    best, median = min(times), statistics.median(times)
    print(f"   verify: {status}, {result.checked:,} events; best of {repeat}: {best:.2f} s "
          f"= {result.checked / best:,.0f} events/s; median {median:.2f} s "
          f"= {result.checked / median:,.0f} events/s")
    scan = plain_scan(url, repeat)
    print(f"   peer: a plain scan of the same rows (fetch only) takes {scan:.2f} s; "
          f"verify costs {best / scan:.1f}x that")
    if memory:
        print(f"   peak Python heap during verify: {traced_peak(url) / 2**20:.1f} MiB (tracemalloc)")
    return result.ok and result.checked == count


def run_postgres(admin_url: str, count: int, *, repeat: int, memory: bool) -> bool:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"aicoe_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        return measure("PostgreSQL", url, count, fill_postgres, repeat=repeat, memory=memory)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="chain length (default 1,000,000)")
    parser.add_argument("--postgres", metavar="URL", help="also measure on a scratch database on this server")
    parser.add_argument("--repeat", type=int, default=3, help="timed verify passes per database (default 3)")
    parser.add_argument("--no-memory", action="store_true", help="skip the (slower) traced memory pass")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be at least 1")

    ok = True
    with tempfile.TemporaryDirectory(prefix="aicoe-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        migrate.upgrade(url)
        ok &= measure("SQLite", url, args.events, fill_sqlite, repeat=args.repeat, memory=not args.no_memory)
    if args.postgres:
        ok &= run_postgres(args.postgres, args.events, repeat=args.repeat, memory=not args.no_memory)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (whole run, including the fill): {rss:.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
