"""Big CSV, TSV, JSON Lines and text files split into byte ranges: the same result as scanning them whole.

Most checks run the plan in this process (``_plan`` → ``_run_local`` → ``_merge``) with tiny units, so range
boundaries fall everywhere; one check runs a process pool and one Ray, as ``scan_paths`` does.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import io, ranges, scanner

CARD = "4111 1111 1111 1111"


def _comparable(result: scanner.ScanResult) -> dict[str, object]:
    data = result.as_dict()
    data["summary"].pop("run")  # type: ignore[union-attr]
    return data


def _scan(path: Path, unit_bytes: int | None, **options: object) -> tuple[scanner.ScanResult, list[scanner.WorkUnit]]:
    """The in-process equivalent of ``scan_paths`` with two workers and ``unit_bytes`` (None: one unit a file)."""
    chosen = scanner.ScanOptions(**options) if unit_bytes is None else scanner.ScanOptions(unit_bytes=unit_bytes,
                                                                                           **options)
    files = list(scanner._expand([path]))
    units = scanner._plan(files, chosen, parallelism=1 if unit_bytes is None else 2)
    return scanner._merge(files, scanner._run_local(units, chosen, None, 0), chosen, 0.0, 1, "local"), units


def _write_csv(path: Path, delimiter: str = ",", rows: int = 240) -> Path:
    """Quoted fields with delimiters, doubled quotes and line breaks, CRLF endings, blank lines, a BOM."""
    with path.open("w", newline="", encoding="utf-8-sig") as file:
        writer = csv.writer(file, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(["id", "email", "notes"])
        for i in range(rows):
            email = f"user{i}@example.com" if i % 7 == 0 else ""
            notes = f'said "call me"\non {CARD}, today' if i % 11 == 0 else f"plain{delimiter} row {i}"
            writer.writerow([i, email, notes])
            if i % 50 == 3:
                file.write("\r\n")
    return path


def _write_text(path: Path) -> Path:
    lines = [f"line {i}: mail user{i}@example.com" if i % 9 == 0 else "" if i % 13 == 0 else f"log {i} ok"
             for i in range(400)]
    path.write_text("\n".join(lines) + f"\ncard {CARD} at the end, no newline", encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "delimiter"), [("csv", ","), ("tsv", "\t"), ("text", None), ("csv", ";"),
                                               ("csv", "|")])
def test_ranges_give_the_one_unit_result_wherever_they_are_cut(tmp_path: Path, kind: str,
                                                               delimiter: str | None) -> None:
    if delimiter is None:
        path = _write_text(tmp_path / "app.log")
    else:
        path = _write_csv(tmp_path / f"people.{kind}", delimiter)
    whole, units = _scan(path, None, max_samples=3)
    assert len(units) == 1 and units[0].byte_range is None
    size = path.stat().st_size
    assert whole.summary["occurrences"] > 0
    for unit_bytes in [1, 7, 64, 333, 1000, size // 2, size - 1]:
        split, units = _scan(path, unit_bytes, max_samples=3)
        assert _comparable(split) == _comparable(whole), unit_bytes
        spans = [unit.byte_range for unit in units]
        assert [(unit.index, unit.part) for unit in units] == [(i, i) for i in range(len(units))]
        assert len(units) > 1 and spans[0].start == 0 and spans[-1].end == size  # type: ignore[union-attr]
        assert all(a.end == b.start for a, b in zip(spans[:-1], spans[1:], strict=True))  # type: ignore[union-attr]
        assert [unit.bytes for unit in units] == [s.end - s.start for s in spans]  # type: ignore[union-attr]
        data = path.read_bytes()
        assert all(data[s.start - 1:s.start] == b"\n" for s in spans[1:])  # type: ignore[union-attr]
        assert all(data.count(b"\n", 0, s.start) == s.line for s in spans)  # type: ignore[union-attr]


def test_csv_ranges_start_outside_quoted_fields(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "people.csv")
    data = path.read_bytes()
    spans = ranges.split_lines(path, io.FileFormat("csv"), len(data), 1)
    assert spans is not None
    assert all(data.count(b'"', 0, s.start) % 2 == 0 for s in spans)
    inside = [i + 1 for i, byte in enumerate(data) if byte == 10 and data.count(b'"', 0, i) % 2]
    assert inside and not {s.start for s in spans} & set(inside)


@pytest.mark.parametrize(("name", "content"), [
    ("stray.csv", 'item,size\npizza,12" wide\n' + "bread,small\n" * 50),
    ("after.csv", 'item,size\n"pizza"x,big\n' + "bread,small\n" * 50),
    ("gzip.csv.gz", None),
])
def test_files_that_cannot_be_cut_safely_stay_whole(tmp_path: Path, name: str, content: str | None) -> None:
    path = tmp_path / name
    if content is None:
        path.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * 500, mtime=0))
    else:
        path.write_text(content, encoding="utf-8")
    fmt = io.detect_format(path)
    assert ranges.split_lines(path, fmt, path.stat().st_size, 8) is None
    _, units = _scan(path, 8)
    assert [unit.byte_range for unit in units] == [None]


_FIELD = st.text(alphabet='ab,"\n\r x', max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_FIELD, min_size=2, max_size=2), min_size=1, max_size=25),
       quote_all=st.booleans(), stray=st.one_of(st.none(), st.integers(0, 400)), target=st.integers(1, 120))
def test_csv_ranges_read_back_the_same_records(tmp_path: Path, rows: list[list[str]], quote_all: bool,
                                               stray: int | None, target: int) -> None:
    """Whatever the quoting (stray quotes included), reading the ranges in turn gives the file's records."""
    path = tmp_path / "random.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        writer.writerow(["a", "b"])
        writer.writerows(rows)
    if stray is not None:
        data = path.read_bytes()
        cut = len(b"a,b\r\n") + stray % max(len(data) - 5, 1)
        path.write_bytes(data[:cut] + b'"' + data[cut:])
    fmt, size = io.FileFormat("csv"), path.stat().st_size

    def records(byte_range: io.ByteRange | None) -> list[dict[str, object]] | str:
        try:
            return [row for batch in io.read_batches(path, fmt, byte_range=byte_range) for row in batch.to_pylist()]
        except io.UnreadableFile as exc:
            return exc.reason

    spans = ranges.split_lines(path, fmt, size, target)
    if spans is not None:
        whole = records(None)
        parts = [records(span) for span in spans]
        if isinstance(whole, str):
            assert whole in parts
        else:
            assert [row for part in parts for row in part] == whole


def _write_jsonl(path: Path, records: int) -> Path:
    """Blank lines, nested objects, and a column whose type differs between reader batches."""
    with path.open("w", encoding="utf-8") as file:
        for i in range(records):
            row: dict[str, object] = {"id": i, "ref": f"r{i}" if i == 70_000 else i}
            if i % 5000 == 0:
                row["contact"] = {"email": f"user{i}@example.com"}
            file.write(json.dumps(row) + "\n")
            if i % 40_000 == 1:
                file.write("   \n")
    return path


def test_jsonl_ranges_hold_whole_reader_batches_and_name_lines_of_the_file(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "events.jsonl", 2 * io.JSONL_BATCH_ROWS + 5000)
    whole, _ = _scan(path, None)
    split, units = _scan(path, 1)
    assert [(unit.byte_range.start > 0, unit.bytes > 0) for unit in units] == [(False, True)] + [(True, True)] * 2
    assert _comparable(split) == _comparable(whole)
    assert [c["type"] for c in split.as_dict()["columns"] if c["name"] == "ref"] == ["int64"]  # type: ignore[index]
    with path.open("a", encoding="utf-8") as file:
        file.write('{"id": \n')
    lines = path.read_bytes().count(b"\n")
    broken_whole, _ = _scan(path, None)
    broken, units = _scan(path, 1)
    assert len(units) == 3
    assert [(f.status, f.reason) for f in broken.files] == [(f.status, f.reason) for f in broken_whole.files] == [
        ("partial", io.INVALID_JSON.format(line=lines))]


def test_a_bad_record_in_a_later_range_is_reported_once_and_ends_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    rows = [f"{i},user{i}@example.com" if i % 1000 == 0 else f"{i},x" for i in range(300_000)]
    rows[250_000] += ",extra"
    path.write_text("id,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    whole, _ = _scan(path, None)
    split, units = _scan(path, 100_000)
    assert len(units) > 10
    reason = io.CSV_FIELD_COUNT.format(kind="CSV", expected=2, actual=3)
    for result in (whole, split):
        (report,) = result.files
        assert (report.status, report.reason, report.bytes, report.sha256) == ("partial", reason,
                                                                               path.stat().st_size, None)
        assert result.summary["skipped"] == [{"path": str(path), "status": "partial", "reason": reason}]
        assert result.summary["by_entity"] == {"EMAIL_ADDRESS": -(-report.rows // 1000)}
    # Rows are read in blocks and a block with a bad row is lost; split, the blocks are smaller, so more is kept.
    assert 0 < whole.files[0].rows <= split.files[0].rows <= 250_000


def test_a_bad_byte_in_a_later_text_range_is_named_by_its_offset_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    good = b"".join(b"entry %d user%d@example.com\n" % (i, i) for i in range(600))  # past the sniffed head
    path.write_bytes(good + b"caf\xe9\n" + b"tail\x00\n")
    whole, _ = _scan(path, None)
    split, units = _scan(path, 1000)
    assert len(units) > 10
    reason = io.NOT_UTF8.format(byte=0xE9, offset=len(good) + 3)  # the first problem, before the NUL byte
    # Whole, the file is one 1 MiB chunk and the damaged chunk is lost; split, every range before it is kept.
    assert (whole.files[0].status, whole.files[0].reason, whole.files[0].rows) == ("skipped", reason, 0)
    (bad,) = [u.byte_range for u in units if u.byte_range.start <= len(good) + 3 < u.byte_range.end]  # type: ignore[union-attr]
    assert (split.files[0].status, split.files[0].reason, split.files[0].rows) == ("partial", reason, bad.line)
    assert split.summary["by_entity"] == {"EMAIL_ADDRESS": bad.line} and bad.line > 500


def test_sampled_files_stay_whole(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "people.csv")
    sampled, units = _scan(path, 10, sample=30, seed=4)
    assert [unit.byte_range for unit in units] == [None]
    assert _comparable(sampled) == _comparable(_scan(path, None, sample=30, seed=4)[0])
    assert sampled.files[0].sample == {"requested": 30, "rows": 30, "rows_total": 240,
                                       "prevalence_upper_95": 1 - (1 - scanner.CONFIDENCE) ** (1 / 30)}


def _tree(root: Path) -> Path:
    root.mkdir()
    _write_csv(root / "people.csv", rows=600)
    _write_csv(root / "people.tsv", "\t", rows=300)
    _write_text(root / "app.log")
    return root


def test_worker_processes_scan_ranges_with_the_one_process_result(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    total = sum(p.stat().st_size for p in root.iterdir())
    calls: list[tuple[int, int]] = []
    one = scanner.scan_paths([root], unit_bytes=4096)
    two = scanner.scan_paths([root], workers=2, unit_bytes=4096, progress=lambda done, size: calls.append((done, size)))
    assert _comparable(one) == _comparable(two)
    assert len(calls) > 3 and calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_ray_tasks_scan_ranges_with_the_one_process_result(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'aicoe[ray]')")
    root = _tree(tmp_path / "tree")
    local = scanner.scan_paths([root], unit_bytes=4096)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        distributed = scanner.scan_paths([root], engine="ray", unit_bytes=4096)
    finally:
        ray.shutdown()
    assert _comparable(local) == _comparable(distributed)
