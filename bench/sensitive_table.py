"""Benchmark: scanning a 1M-row table for sensitive data, the engine against Presidio's BatchAnalyzerEngine.

Builds a table of ``--rows`` rows × 10 mixed columns (integer id, name, e-mail, phone, address, card number,
SSN, float amount, timestamp, and a free-text note drawn from the labelled corpus in ``tests/sensitive_corpus.py``),
writes it to CSV and to Parquet in a temporary directory, and times:

* ours: ``aicoe.engines.sensitive.scanner.scan_paths`` on each file, full scan, in one process and with
  ``--workers`` processes (Parquet split into row-group units so the workers share one file), in cells per
  second (the scanner's own count of cells read);
* Presidio: ``BatchAnalyzerEngine.analyze_dict`` (no-op NLP engine, the shared entity types, column names as
  context, as in ``bench/sensitive_text.py``) on the first ``--presidio-rows`` rows only, sized to its speed;
  its cells/s and its time for the whole table are **extrapolated** from that sample.

It also compares what ours found per entity type with what was planted (the generator knows every value it put
in), and prints the process's peak RSS. With ``--excel-rows N`` it writes the first N rows to an .xlsx workbook
too and scans it with each of the engine's two Excel readers: python-calamine (workbooks up to
``io.CALAMINE_MAX_BYTES``) and openpyxl's streaming read-only mode (larger ones, and every workbook before
calamine).

The generated columns draw their values from pools of ``--pool`` values (default 4,096), so values repeat as
customers, products and codes do in real tables; the engine scans a repeated value once, which such a table
rewards. ``--pool`` as large as ``--rows`` makes (almost) every value distinct: the engine's worst case.

    .venv/bin/python bench/sensitive_table.py [--rows N] [--pool N] [--workers N] [--presidio-rows N] [--seed N]
        [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the corpus lives in tests/

from sensitive_text import SHARED, forbid_network, network_attempts, presidio_engine  # noqa: E402

from tests.sensitive_corpus import (  # noqa: E402
    ENTITIES,
    CorpusGenerator,
    Doc,
    generate,
)

TARGET_CELLS_PER_S = 1_000_000
TARGET_RATIO = 100.0
ROW_GROUP_ROWS = 65_536


def build_table(rows: int, seed: int, pool_size: int) -> tuple[pa.Table, Counter[str]]:
    """The table and, per entity type, how many values were planted in it.

    Values come from pools of ``pool_size`` generated ones, indexed at random: realistic variety at numpy speed.
    """
    np_rng, values = np.random.default_rng(seed), CorpusGenerator(seed)
    notes = [line for doc in generate(600, seed) for line in _lines(doc)]
    pools: dict[str, tuple[list[str], list[Counter[str]]]] = {
        name: ([values.value(entity, "") for _ in range(pool_size)], [])
        for name, entity in (("full_name", "PERSON"), ("email", "EMAIL_ADDRESS"), ("phone", "PHONE_NUMBER"),
                             ("address", "LOCATION"), ("card_number", "CREDIT_CARD"), ("ssn", "US_SSN"))}
    pools["notes"] = ([text for text, _ in notes], [labels for _, labels in notes])
    planted_by_column = {"email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "card_number": "CREDIT_CARD",
                         "ssn": "US_SSN"}
    planted: Counter[str] = Counter()
    columns: dict[str, pa.Array] = {"customer_id": pa.array(np.arange(1, rows + 1, dtype=np.int64))}
    for name, (pool, labels) in pools.items():
        picks = np_rng.integers(0, len(pool), rows)
        columns[name] = pa.array(pool, type=pa.string()).take(pa.array(picks))
        if name in planted_by_column:
            planted[planted_by_column[name]] += rows
        if labels:
            for index, count in zip(*np.unique(picks, return_counts=True), strict=True):
                for entity, n in labels[index].items():
                    planted[entity] += n * int(count)
    columns["amount"] = pa.array(np.round(np_rng.uniform(1, 5000, rows), 2))
    seconds = np_rng.integers(1_700_000_000, 1_730_000_000, rows).astype("datetime64[s]")
    columns["created_at"] = pa.array(np.datetime_as_string(seconds), type=pa.string())
    order = ["customer_id", "full_name", "email", "phone", "address", "card_number", "ssn", "amount", "created_at",
             "notes"]
    return pa.table({name: columns[name] for name in order}), planted


def _lines(doc: Doc) -> list[tuple[str, Counter[str]]]:
    """A document's lines with the labelled entity types on each (a note cell holds one line)."""
    out, start = [], 0
    for line in doc.text.split("\n"):
        end = start + len(line)
        out.append((line, Counter(s.entity for s in doc.spans if start <= s.start < end and s.entity in ENTITIES)))
        start = end + 1
    return out


def scan_ours(path: Path, workers: int) -> tuple[float, int, Counter[str]]:
    from aicoe.engines.sensitive.scanner import scan_paths

    started = time.perf_counter()
    result = scan_paths([path], workers=workers, unit_bytes=8 << 20)
    elapsed = time.perf_counter() - started
    if result.files[0].status != "scanned":
        raise SystemExit(f"{path.name}: {result.files[0].status}: {result.files[0].reason}")
    found: Counter[str] = Counter()
    for group in result.findings:
        found[group.entity] += group.count
    return elapsed, result.files[0].cells, found


def scan_excel(table: pa.Table, path: Path, presidio_rate: float) -> None:
    """The table as one worksheet, scanned in one process by each Excel reader of the engine."""
    import openpyxl

    from aicoe.engines.sensitive import io

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("people")
    sheet.append(table.column_names)
    for row in zip(*(table.column(name).to_pylist() for name in table.column_names), strict=True):
        sheet.append(list(row))
    workbook.save(path)
    print(f"\n{'aicoe scan_paths, XLSX':28} {'rows':>7} {'seconds':>8} {'cells/s':>12} {'vs presidio':>12}   "
          f"({path.stat().st_size / 2**20:.0f} MiB)")
    limit = io.CALAMINE_MAX_BYTES
    for reader, bound in (("python-calamine", limit), ("openpyxl (streaming)", 0)):
        io.CALAMINE_MAX_BYTES = bound
        try:
            elapsed, scanned, _ = scan_ours(path, 1)
        finally:
            io.CALAMINE_MAX_BYTES = limit
        print(f"{reader:28} {table.num_rows:7,} {elapsed:8.2f} {scanned / elapsed:12,.0f} "
              f"{scanned / elapsed / presidio_rate:11.0f}x")


def scan_presidio(table: pa.Table, rows: int) -> tuple[float, int]:
    from presidio_analyzer import BatchAnalyzerEngine

    engine = BatchAnalyzerEngine(analyzer_engine=presidio_engine())
    sample = {name: [str(v) for v in table.column(name).slice(0, rows).to_pylist()] for name in table.column_names}
    list(engine.analyze_dict({k: v[:5] for k, v in sample.items()}, language="en", entities=list(SHARED)))  # warm
    started = time.perf_counter()
    list(engine.analyze_dict(sample, language="en", entities=list(SHARED), score_threshold=0.0))
    return time.perf_counter() - started, rows * len(sample)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    parser.add_argument("--presidio-rows", type=int, default=1_000, help="rows Presidio scans (default 1,000)")
    parser.add_argument("--pool", type=int, default=4_096, help="distinct values per generated column (default 4,096)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--excel-rows", type=int, default=0, help="also scan the first N rows as .xlsx (default: no)")
    parser.add_argument("--quick", action="store_true", help="a small run: 50,000 rows, Presidio on 200")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.presidio_rows = 50_000, 200
    if args.rows < 1_000 or not 10 <= args.presidio_rows <= args.rows or args.workers < 1 or args.pool < 1:
        parser.error("need --rows >= 1,000, 10 <= --presidio-rows <= --rows, --workers >= 1 and --pool >= 1")
    forbid_network()
    started = time.perf_counter()
    table, planted = build_table(args.rows, args.seed, args.pool)
    cells = table.num_rows * table.num_columns
    ok = True
    with tempfile.TemporaryDirectory(prefix="aicoe-bench-") as tmp:
        files = {"CSV": Path(tmp) / "people.csv", "Parquet": Path(tmp) / "people.parquet"}
        pa_csv.write_csv(table, files["CSV"])
        pq.write_table(table, files["Parquet"], row_group_size=ROW_GROUP_ROWS)
        sizes = ", ".join(f"{k} {p.stat().st_size / 2**20:.0f} MiB" for k, p in files.items())
        print(f"== table: {table.num_rows:,} rows × {table.num_columns} columns = {cells:,} cells, generated columns "
              f"drawn from pools of {args.pool:,} values ({sizes}; built and written in "
              f"{time.perf_counter() - started:.1f} s)")
        presidio_s, presidio_cells = scan_presidio(table, args.presidio_rows)
        presidio_rate = presidio_cells / presidio_s
        print(f"\npresidio BatchAnalyzerEngine on {args.presidio_rows:,} rows ({presidio_cells:,} cells): "
              f"{presidio_s:.1f} s = {presidio_rate:,.0f} cells/s; the whole table would take "
              f"{cells / presidio_rate / 60:,.1f} min (extrapolated)")
        found = Counter()
        print(f"\n{'aicoe scan_paths':28} {'workers':>7} {'seconds':>8} {'cells/s':>12} {'vs presidio':>12}")
        for label, path in files.items():
            for workers in sorted({1, args.workers}):
                elapsed, scanned, found = scan_ours(path, workers)
                rate = scanned / elapsed
                ratio = rate / presidio_rate
                good = rate >= TARGET_CELLS_PER_S and ratio >= TARGET_RATIO
                ok &= good or workers == 1
                print(f"{label:28} {workers:7} {elapsed:8.2f} {rate:12,.0f} {ratio:11.0f}x   "
                      f"[{'OK' if good else 'BELOW'} vs {TARGET_CELLS_PER_S:,} cells/s and {TARGET_RATIO:.0f}x]")
        if args.excel_rows:
            scan_excel(table.slice(0, args.excel_rows), Path(tmp) / "people.xlsx", presidio_rate)
    print("\n== planted vs found (Parquet, last run)")
    for entity in sorted(set(planted) | set(found)):
        print(f"{entity:28} planted {planted[entity]:10,}   found {found[entity]:10,}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {own:.0f} MiB (the table in memory, Presidio, the one-process scans); "
          f"network attempts {network_attempts()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
