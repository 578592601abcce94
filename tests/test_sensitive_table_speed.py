"""The table-scan shortcuts must not change results: CSV blocks joined into large batches, occurrences folded into
finding groups with numpy, and repeated values remembered across batches."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import io, scanner, tables
from aicoe.engines.sensitive.analyzer import Analyzer, default_analyzer

POOL = ["4111 1111 1111 1111", "ssn 123-45-6789 and 078-05-1120", "zoe@example.com", "call +44 20 7946 0018",
        "nothing here", "Zoë née Ångström 123-45-6789", "4111-1111-1111-1112", "a@b.io, c@d.io; 5500 0000 0000 0004",
        "key AKIAIOSFODNN7EXAMPLE", "dob 1980-02-29 ssn 078-05-1120"]


def _write_csv(path: Path, rows: int, *, ragged_at: int | None = None) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "email", "notes"])
        for i in range(rows):
            row = [str(i), f"user{i}@example.com", POOL[i % len(POOL)] + " " + "x" * 200]
            writer.writerow(row + ["extra"] if i == ragged_at else row)


def test_csv_blocks_are_joined_into_batches_of_batch_rows(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    _write_csv(path, 20_000)  # about 5 MiB: several of the reader's 1 MiB blocks
    fmt = io.detect_format(path)
    assert [batch.num_rows for batch in io.read_batches(path, fmt)] == [20_000]
    sizes = [batch.num_rows for batch in io.read_batches(path, fmt, batch_rows=6_000)]
    assert sum(sizes) == 20_000 and max(sizes) == 6_000 and len(sizes) <= 6
    ids = pa.concat_arrays([batch.column(0) for batch in io.read_batches(path, fmt, batch_rows=6_000)])
    assert ids.to_pylist() == [str(i) for i in range(20_000)]


def test_rows_before_a_malformed_block_are_all_handed_over_before_the_error(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    _write_csv(path, 20_000, ragged_at=15_000)
    expected = 0  # what the CSV reader itself yields before it fails
    reader = pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=1 << 20, use_threads=False))
    with pytest.raises(pa.ArrowInvalid):
        for batch in reader:
            expected += batch.num_rows
    assert 0 < expected < 15_000
    read = 0
    with pytest.raises(io.UnreadableFile) as caught:
        for batch in io.read_batches(path, io.detect_format(path)):
            read += batch.num_rows
    assert (read, caught.value.reason) == (expected, io.CSV_FIELD_COUNT.format(kind="CSV", expected=3, actual=4))
    report = scanner.scan_paths([path]).files[0]
    assert (report.status, report.rows) == ("partial", expected)


def _fold(findings: list[tables.CellFinding], rows: np.ndarray, texts: dict[str, pa.Array],
          max_samples: int) -> dict[tuple[str, str], scanner.FindingGroup]:
    """The per-occurrence fold the scanner replaces: the reference for what its groups must hold."""
    groups: dict[tuple[str, str], scanner.FindingGroup] = {}
    for cell in findings:
        finding = cell.finding
        group = groups.get((cell.column, finding.entity))
        if group is None:
            group = groups[cell.column, finding.entity] = scanner.FindingGroup(
                "t", None, cell.column, finding.entity, finding.category, finding.severity)
        group.count += 1
        group.max_score = max(group.max_score, finding.score)
        if finding.reason.recognizer not in group.recognizers:
            group.recognizers.append(finding.reason.recognizer)
        if len(group.samples) < max_samples:
            value = texts[cell.column][cell.row].as_py()[finding.start:finding.end]
            group.samples.append(scanner.Location(int(rows[cell.row]) + 1, cell.column, finding.start, finding.end,
                                                  value[::-1]))
    return groups


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(POOL)), min_size=1, max_size=60),
       st.lists(st.one_of(st.none(), st.sampled_from(POOL)), min_size=1, max_size=60),
       st.integers(0, 12), st.integers(0, 1000))
def test_groups_hold_what_walking_every_occurrence_gives(notes: list[str | None], ssn: list[str | None],
                                                         max_samples: int, first_row: int) -> None:
    size = min(len(notes), len(ssn))
    batch = pa.record_batch([pa.array(notes[:size], pa.string()), pa.array(ssn[:size], pa.string())],
                            names=["notes", "ssn"])
    rows = np.arange(first_row, first_row + size)
    options = scanner.ScanOptions(max_samples=max_samples, on_sample=_reverse)
    fmt = io.FileFormat("parquet")
    unit = scanner.WorkUnit(0, 0, "t", fmt, 0)
    result = scanner.UnitResult(unit)
    scanner._scan_rows(result, None, rows, batch, fmt, options, tables.ValueMemo())
    scan = tables.scan_batch(batch)
    expected = _fold(scan.findings, rows, scan.texts, max_samples)
    assert {(column, entity): group.as_dict() for (_, column, entity), group in result.groups.items()} == {
        key: group.as_dict() for key, group in expected.items()}


def _reverse(value: str) -> str:
    return value[::-1]


def _count_scans(monkeypatch: pytest.MonkeyPatch, analyzer: Analyzer) -> list[int]:
    """Makes ``analyzer`` note how many values each of its scans covers (one per line of the joined text)."""
    scanned: list[int] = []
    original = analyzer.scan_spans

    def counting(text: str, **options: object) -> object:
        scanned.append(text.count("\n") + 1)
        return original(text, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(analyzer, "scan_spans", counting)
    return scanned


def test_a_memo_scans_each_repeated_value_once_per_scan_and_finds_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    analyzer = default_analyzer()
    first = pa.table({"notes": [POOL[0], POOL[1], POOL[0], POOL[1], None]})
    second = pa.table({"notes": [POOL[1], POOL[2], POOL[1], POOL[2], POOL[0]]})
    plain = [tables.scan_batch(table, analyzer=analyzer).findings for table in (first, second)]
    scanned = _count_scans(monkeypatch, analyzer)
    memo = tables.ValueMemo()
    remembered = [tables.scan_batch(table, analyzer=analyzer, memo=memo).findings for table in (first, second)]
    assert remembered == plain
    assert scanned == [2, 1]  # the second batch scans only the value the first did not hold
    scanned.clear()
    tables.scan_batch(second, analyzer=analyzer, memo=memo, entities=["US_SSN"])
    tables.scan_batch(pa.table({"ssn": second.column(0)}), analyzer=analyzer, memo=memo)
    assert scanned == [3, 3]  # other options, another column: remembered apart


def test_a_full_memo_keeps_what_it_holds_and_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = tables.ValueMemo(limit_chars=len(POOL[2]) + tables.MEMO_ENTRY_CHARS)
    table = pa.table({"notes": [POOL[2], POOL[3], POOL[2], POOL[3]]})
    expected = tables.scan_batch(table).findings
    assert tables.scan_batch(table, memo=memo).findings == expected
    analyzer = default_analyzer()
    scanned = _count_scans(monkeypatch, analyzer)
    assert tables.scan_batch(table, analyzer=analyzer, memo=memo).findings == expected
    assert scanned == [1]  # POOL[2] was remembered; POOL[3] no longer fitted
