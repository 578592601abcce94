"""File and table scanning: formats, bad files, column classification, sampling, parallel and Ray runs, SARIF.

Every fixture file is generated here, in tmp_path. The same four people rows are written in each format, so the
same findings (row, column, offsets, counts) are expected from each.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import struct
import zipfile
from io import StringIO
from pathlib import Path

import jsonschema
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import io, rewrite, sarif, scanner, tables
from aicoe.engines.sensitive.analyzer import UNKNOWN_ENTITY, default_analyzer

COLUMNS = ("id", "name", "email", "card_number", "notes")
PEOPLE = [
    ("1", "Ann Lee", "ann.lee@example.com", "4111 1111 1111 1111", "prefers email"),
    ("2", "Bob Stone", "bob@example.org", None, "card on file"),
    ("3", "Cy Doe", None, "5500 0000 0000 0004", "reach me at cy@example.net today"),
    ("4", "Di Ray", "di@example.com", None, None),
]
# (column, entity, count, [(row, start, end)]) in column order.
EXPECTED = [
    ("email", "EMAIL_ADDRESS", 3, [(1, 0, 19), (2, 0, 15), (4, 0, 14)]),
    ("card_number", "CREDIT_CARD", 2, [(1, 0, 19), (3, 0, 19)]),
    ("notes", "EMAIL_ADDRESS", 1, [(3, 12, 26)]),
]
TICKET = ("Ticket 1: customer ann.lee@example.com called.\n"
          "nothing to see\n"
          "refund to card 4111 1111 1111 1111 please\n")
TICKET_EXPECTED = [(None, "CREDIT_CARD", 1, [(3, 15, 34)]), (None, "EMAIL_ADDRESS", 1, [(1, 19, 38)])]


def _write_csv(path: Path, delimiter: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(COLUMNS)
        writer.writerows([["" if v is None else v for v in row] for row in PEOPLE])


def _people_table() -> pa.Table:
    return pa.table({name: pa.array([row[i] for row in PEOPLE], type=pa.string()) for i, name in enumerate(COLUMNS)})


def _write_jsonl(path: Path) -> None:
    lines = [json.dumps({k: v for k, v in zip(COLUMNS, row, strict=True) if v is not None}) for row in PEOPLE]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_json(path: Path) -> None:
    """The records as one pretty-printed JSON array (an export), as a JSON Lines file holds them line by line."""
    records = [{k: v for k, v in zip(COLUMNS, row, strict=True) if v is not None} for row in PEOPLE]
    path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")


def _write_xlsx(path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "People"
    sheet.append(COLUMNS)
    for row in PEOPLE:
        sheet.append(list(row))
    empty = workbook.create_sheet("Empty")
    empty.append(["nothing"])
    workbook.save(path)


def _gzip(path: Path) -> Path:
    target = path.with_name(path.name + ".gz")
    target.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    path.unlink()
    return target


def _make(tmp_path: Path, kind: str) -> Path:
    if kind in ("csv", "csv.gz"):
        path = tmp_path / "people.csv"
        _write_csv(path)
    elif kind.startswith("csv "):  # "csv ;": a .csv file with another separator
        path = tmp_path / "people.csv"
        _write_csv(path, kind[-1])
    elif kind == "tsv":
        path = tmp_path / "people.tsv"
        _write_csv(path, "\t")
    elif kind in ("parquet", "parquet.gz"):
        path = tmp_path / "people.parquet"
        pq.write_table(_people_table(), path, row_group_size=2)
    elif kind in ("jsonl", "jsonl.gz"):
        path = tmp_path / "people.jsonl"
        _write_jsonl(path)
    elif kind in ("json", "json.gz"):
        path = tmp_path / "people.json"
        _write_json(path)
    else:
        path = tmp_path / "people.xlsx"
        _write_xlsx(path)
    return _gzip(path) if kind.endswith(".gz") else path


def _shape(result: scanner.ScanResult) -> list[tuple[object, ...]]:
    return [(g.table, g.column, g.entity, g.count, [(s.row, s.start, s.end) for s in g.samples])
            for g in result.findings]


def _comparable(result: scanner.ScanResult) -> dict[str, object]:
    data = result.as_dict()
    data["summary"].pop("run")  # type: ignore[union-attr]
    return data


@pytest.mark.parametrize(("kind", "fmt", "table"), [
    ("csv", io.FileFormat("csv"), None), ("csv.gz", io.FileFormat("csv", True), None),
    ("csv ;", io.FileFormat("csv", False, ";"), None), ("csv |", io.FileFormat("csv", False, "|"), None),
    ("csv \t", io.FileFormat("csv", False, "\t"), None), ("tsv", io.FileFormat("tsv"), None),
    ("parquet", io.FileFormat("parquet"), None),
    ("parquet.gz", io.FileFormat("parquet", True), None), ("jsonl", io.FileFormat("jsonl"), None),
    ("jsonl.gz", io.FileFormat("jsonl", True), None), ("json", io.FileFormat("json"), None),
    ("json.gz", io.FileFormat("json", True), None), ("xlsx", io.FileFormat("excel"), "People"),
])
def test_every_format_gives_the_same_exact_findings(tmp_path: Path, kind: str, fmt: io.FileFormat,
                                                    table: str | None) -> None:
    path = _make(tmp_path, kind)
    assert io.detect_format(path) == fmt
    result = scanner.scan_paths(path)
    assert _shape(result) == [(table, column, entity, count, locations)
                              for column, entity, count, locations in EXPECTED]
    assert [(g.severity, g.category) for g in result.findings] == [("medium", "contact"), ("high", "financial"),
                                                                    ("medium", "contact")]
    (report,) = result.files
    assert (report.status, report.reason, report.rows, report.cells) == ("scanned", None, 4, 20)
    assert report.format == fmt.kind + ("+gzip" if fmt.compressed else "")
    assert report.sha256 is not None and len(report.sha256) == 64
    assert result.summary["by_entity"] == {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 4}
    assert result.summary["by_severity"] == {"low": 0, "medium": 4, "high": 2, "critical": 0}
    assert result.summary["highest_severity"] == "high"


def test_text_and_gzip_text_findings_are_located_by_line_and_offset(tmp_path: Path) -> None:
    plain = tmp_path / "ticket.log"
    plain.write_text(TICKET, encoding="utf-8")
    packed = tmp_path / "ticket.txt.gz"
    packed.write_bytes(gzip.compress(TICKET.encode("utf-8")))
    result = scanner.scan_paths([plain, packed])
    expected = [(None, column, entity, count, rows) for column, entity, count, rows in TICKET_EXPECTED]
    assert _shape(result) == expected * 2
    assert [g.path for g in result.findings] == [str(plain)] * 2 + [str(packed)] * 2
    assert [(f.format, f.rows, f.cells, f.values) for f in result.files] == [("text", 3, 0, 3),
                                                                             ("text+gzip", 3, 0, 3)]
    assert result.columns == []


def test_findings_equal_scanning_each_cell_alone_with_the_column_name_as_context(tmp_path: Path) -> None:
    path = _make(tmp_path, "parquet")
    result = scanner.scan_paths([path])
    analyzer = default_analyzer()
    for group in result.findings:
        for sample in group.samples:
            cell = PEOPLE[sample.row - 1][COLUMNS.index(group.column)]
            found = analyzer.scan_text(cell, extra_context=(group.column,))
            assert [(f.entity, f.start, f.end) for f in found] == [(group.entity, sample.start, sample.end)]
            assert group.max_score == max(f.score for f in found)


def test_column_classification_counts_shares_and_labels(tmp_path: Path) -> None:
    result = scanner.scan_paths([_make(tmp_path, "csv")])
    profiles = {c.profile.name: c.profile for c in result.columns}
    assert list(profiles) == list(COLUMNS)
    assert {n: (p.non_null, p.occurrences, p.shares(), p.label()) for n, p in profiles.items()} == {
        "id": (4, {}, {}, None),
        "name": (4, {}, {}, None),
        "email": (3, {"EMAIL_ADDRESS": 3}, {"EMAIL_ADDRESS": 1.0}, "EMAIL_ADDRESS"),
        "card_number": (2, {"CREDIT_CARD": 2}, {"CREDIT_CARD": 1.0}, "CREDIT_CARD"),
        "notes": (3, {"EMAIL_ADDRESS": 1}, {"EMAIL_ADDRESS": 0.333333}, None),
    }
    assert profiles["notes"].label(threshold=0.3) == "EMAIL_ADDRESS"
    assert result.as_dict()["columns"][2] == {  # type: ignore[index]
        "path": str(tmp_path / "people.csv"), "table": None, "name": "email", "type": "string", "scanned": True,
        "note": None, "non_null": 3, "occurrences": {"EMAIL_ADDRESS": 3}, "rows": {"EMAIL_ADDRESS": 3},
        "shares": {"EMAIL_ADDRESS": 1.0}, "label": "EMAIL_ADDRESS"}


def test_typed_columns_are_scanned_only_when_the_name_suggests_an_identifier() -> None:
    batch = pa.record_batch({
        "customer": pa.array([{"contact": {"email": "a@example.com"}}, None]),
        "card": pa.array([4111111111111111, None], type=pa.int64()),
        "amount": pa.array([4111111111111111, 5], type=pa.int64()),
        "ratio": pa.array([0.5, 1.5]),
        "tags": pa.array([["x"], ["b@example.org"]]),
        "counts": pa.array([[1], []]),
        "kind": pa.array(["a@example.com", "x"]).dictionary_encode(),
    })
    scan = tables.scan_batch(batch)
    assert [(c.row, c.column, c.finding.entity, c.finding.start, c.finding.end) for c in scan.findings] == [
        (0, "customer.contact.email", "EMAIL_ADDRESS", 0, 13), (0, "card", "CREDIT_CARD", 0, 16),
        (1, "tags", "EMAIL_ADDRESS", 2, 15), (0, "kind", "EMAIL_ADDRESS", 0, 13)]  # a list as its JSON text
    assert {n: (p.scanned, p.note, p.non_null) for n, p in scan.columns.items()} == {
        "customer.contact.email": (True, None, 1),
        "card": (True, None, 1),
        "amount": (False, tables.NOT_IDENTIFIER_NAME.format(type="int64"), 2),
        "ratio": (False, tables.NOT_SCANNED.format(type="double"), 2),
        "tags": (True, None, 2),
        "counts": (False, tables.NOT_SCANNED.format(type="list<item: int64>"), 2),
        "kind": (True, None, 2),
    }


CELL = st.one_of(st.none(), st.sampled_from(["ann@example.com", "4111 1111 1111 1111", "GB82WEST12345698765432",
                                             "plain words", "line\nbreak a@b.io", "é ü 中", ""]),
                 st.text(max_size=30))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.lists(CELL, min_size=1, max_size=3).map(lambda parts: None if parts[0] is None else
                      " ".join(p or "" for p in parts)), max_size=12),
       name=st.sampled_from(["email", "card_number", "notes", "iban"]))
def test_joined_column_scan_equals_scanning_each_cell(cells: list[str | None], name: str) -> None:
    analyzer = default_analyzer()
    located = tables.scan_strings(pa.array(cells, type=pa.string()), context=(name,))
    expected = [(row, f.entity, f.start, f.end, f.score) for row, cell in enumerate(cells) if cell is not None
                for f in analyzer.scan_text(cell, extra_context=(name,))]
    assert [(row, f.entity, f.start, f.end, f.score) for row, f in located] == expected


def _ole_container(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE2 compound file (version 3, 512-byte sectors) holding ``streams``: the container Office
    writes a password-protected .xlsx into (EncryptionInfo + EncryptedPackage)."""
    sector, free, end, fat_sector, no_stream = 512, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    bodies = [streams[name].ljust(4096, b"\0") for name in streams]
    fat, starts, next_sector = [fat_sector, end], [], 2
    for body in bodies:
        count = math.ceil(len(body) / sector)
        starts.append(next_sector)
        fat.extend(range(next_sector + 1, next_sector + count))
        fat.append(end)
        next_sector += count
    fat.extend([free] * (128 - len(fat)))
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16, 0x3E, 3,
                         0xFFFE, 9, 6, b"\0" * 6, 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<109I", 0, *[free] * 108)

    def entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return struct.pack("<64sHBBIII16sIQQIQ", encoded, len(encoded), kind, 1, no_stream, right, child,
                           b"\0" * 16, 0, 0, 0, start, size)

    names = list(streams)
    directory = entry("Root Entry", 5, no_stream, 1, end, 0)
    for i, name in enumerate(names):
        directory += entry(name, 2, i + 2 if i + 1 < len(names) else no_stream, no_stream, starts[i],
                           len(streams[name]))
    directory = directory.ljust(sector, b"\0")
    return header + struct.pack("<128I", *fat) + directory + b"".join(b.ljust(len(b) + -len(b) % sector, b"\0")
                                                                      for b in bodies)


def _bad_tree(root: Path) -> dict[str, str]:
    """Good files and every kind of bad one; returns the expected reason per bad file name."""
    root.mkdir()
    _write_csv(root / "good.csv")
    (root / "nested").mkdir()
    (root / "nested" / "ticket.txt").write_text(TICKET, encoding="utf-8")
    pq.write_table(_people_table(), root / "whole.parquet", row_group_size=2)
    data = (root / "whole.parquet").read_bytes()
    (root / "corrupt.parquet").write_bytes(data[: len(data) // 2])
    packed = gzip.compress(("id,email\n" + "1,a@example.com\n" * 5000).encode())
    (root / "truncated.csv.gz").write_bytes(packed[: len(packed) // 2])
    (root / "binary.txt").write_bytes(b"header\nab\x00cd")
    (root / "latin1.txt").write_bytes("name\ncaf\u00e9 ann@example.com\n".encode("latin-1"))
    (root / "locked.xlsx").write_bytes(_ole_container({"EncryptionInfo": b"\x04\x00\x04\x00" + b"\x40" * 60,
                                                       "EncryptedPackage": os.urandom(600)}))
    (root / "legacy.xls").write_bytes(_ole_container({"Workbook": b"BIFF" * 40}))
    with zipfile.ZipFile(root / "archive.xlsx", "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    (root / "big.csv").write_text("id\n" + "1\n" * 12_000, encoding="utf-8")
    (root / "photo.bin").write_bytes(bytes(range(256)) * 4)
    (root / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    (root / "broken.jsonl").write_text('{"email": "a@example.com"}\n{"email": \n', encoding="utf-8")
    (root / "list.jsonl").write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    (root / "link.csv").symlink_to(root / "good.csv")
    return {
        "archive.xlsx": io.NOT_A_WORKBOOK,
        "big.csv": io.TOO_LARGE.format(size=24_003, limit=20_000),
        "binary.txt": io.BINARY_FILE.format(offset=9),
        "broken.jsonl": io.INVALID_JSON.format(line=2),
        "corrupt.parquet": io.CORRUPT_FILE.format(kind="Parquet"),
        "latin1.txt": io.NOT_UTF8.format(byte=0xE9, offset=8),
        "legacy.xls": io.LEGACY_OFFICE,
        "link.csv": scanner.SYMLINK_SKIPPED,
        "list.jsonl": io.NOT_JSON_OBJECT.format(line=2),
        "locked.xlsx": io.ENCRYPTED_WORKBOOK,
        "photo.bin": io.UNKNOWN_FORMAT,
        "ragged.csv": io.CSV_FIELD_COUNT.format(kind="CSV", expected=2, actual=3),
        "truncated.csv.gz": io.TRUNCATED_GZIP,
    }


def test_bad_files_are_reported_with_exact_reasons_while_the_rest_is_scanned(tmp_path: Path) -> None:
    reasons = _bad_tree(tmp_path / "tree")
    result = scanner.scan_paths([tmp_path / "tree"], max_file_bytes=20_000)
    names = [Path(f.path).relative_to(tmp_path / "tree").as_posix() for f in result.files]
    assert names == sorted(["good.csv", "nested/ticket.txt", "whole.parquet", *reasons])
    by_name = {Path(f.path).name: f for f in result.files}
    assert {name: (r.status, r.reason) for name, r in by_name.items() if r.reason} == {
        name: ("skipped", reason) for name, reason in reasons.items()}
    assert [(Path(g.path).name, g.column, g.entity, g.count) for g in result.findings] == [
        ("good.csv", "email", "EMAIL_ADDRESS", 3), ("good.csv", "card_number", "CREDIT_CARD", 2),
        ("good.csv", "notes", "EMAIL_ADDRESS", 1), ("ticket.txt", None, "CREDIT_CARD", 1),
        ("ticket.txt", None, "EMAIL_ADDRESS", 1), ("whole.parquet", "email", "EMAIL_ADDRESS", 3),
        ("whole.parquet", "card_number", "CREDIT_CARD", 2), ("whole.parquet", "notes", "EMAIL_ADDRESS", 1)]
    summary = result.summary
    assert (summary["files"], summary["files_scanned"], summary["files_partial"], summary["files_skipped"]) == (
        16, 3, 0, 13)
    assert summary["skipped"] == [{"path": f.path, "status": "skipped", "reason": f.reason}
                                  for f in result.files if f.reason]
    assert summary["rows"] == 4 + 3 + 4


def test_an_error_after_some_rows_keeps_what_was_found_and_says_partial(tmp_path: Path) -> None:
    rows = "".join(f"{i},user{i}@example.com,{'x' * 40}\n" for i in range(150_000))
    packed = gzip.compress(("id,email,pad\n" + rows).encode(), mtime=0)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(packed[: int(len(packed) * 0.6)])
    result = scanner.scan_paths([path], max_samples=0)
    (report,) = result.files
    assert (report.status, report.reason, report.sha256) == ("partial", io.TRUNCATED_GZIP, None)
    assert 0 < report.rows < 150_000
    assert result.summary["by_entity"] == {"EMAIL_ADDRESS": report.rows}
    assert result.summary["files_partial"] == 1


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.sampled_from("ab\u00e9\n"), max_size=300), chunk_bytes=st.integers(1, 64))
def test_text_chunks_end_at_line_breaks_and_a_file_within_one_block_is_one_chunk(tmp_path: Path, text: str,
                                                                                 chunk_bytes: int) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(text, encoding="utf-8")
    chunks = list(io.iter_text_chunks(path, chunk_bytes=chunk_bytes))
    assert "".join(chunks) == text
    assert all(chunk.endswith("\n") for chunk in chunks[:-1]) and "" not in chunks
    if len(text.encode()) <= chunk_bytes:
        assert chunks == ([text] if text else [])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_text_is_strict_utf8_and_names_the_first_bad_byte(tmp_path: Path, data: bytes) -> None:
    assume(not data.startswith((b"\x1f\x8b", b"PAR1", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")))
    path = tmp_path / "blob.txt"
    path.write_bytes(data)
    if b"\x00" in data:
        expected = io.BINARY_FILE.format(offset=data.index(b"\x00"))
    else:
        try:
            expected = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            expected = io.NOT_UTF8.format(byte=data[exc.start], offset=exc.start)
    try:
        assert io.read_text(path, io.detect_format(path)) == expected
    except io.UnreadableFile as exc:
        assert exc.reason == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.text(max_size=12).filter(lambda s: "\r" not in s and "\x00" not in s),
                               st.text(max_size=12).filter(lambda s: "\r" not in s and "\x00" not in s)),
                     min_size=1, max_size=15))
def test_csv_values_come_back_exactly_as_strings(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    path = tmp_path / "values.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_ALL)
        writer.writerow(["a", "b"])
        writer.writerows(rows)
    batches = list(io.read_batches(path, io.detect_format(path), batch_rows=4))
    assert all(b.schema.types == [pa.string(), pa.string()] for b in batches)
    assert [(r["a"], r["b"]) for b in batches for r in b.to_pylist()] == [
        (a or None, b or None) for a, b in rows]


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl", "xlsx"])
def test_reading_selected_columns_ignores_absent_ones(tmp_path: Path, kind: str) -> None:
    path = _make(tmp_path, kind)
    batches = list(io.read_batches(path, io.detect_format(path), columns=["notes", "absent", "email"]))
    assert [row for b in batches for row in b.to_pylist()] == [
        {"email": row[2], "notes": row[4]} for row in PEOPLE]


def test_jsonl_flattens_objects_keeps_types_and_stringifies_mixed_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text('{"user": {"email": "a@example.com", "age": 30}, "tags": ["x", "y"], "n": 1}\n\n'
                    '{"user": {"email": null}, "n": "two"}\n', encoding="utf-8")
    (batch,) = io.read_batches(path, io.detect_format(path))
    assert batch.schema.names == ["user.email", "user.age", "tags", "n"]
    assert batch.schema.types == [pa.string(), pa.int64(), pa.string(), pa.string()]
    assert batch.to_pylist() == [{"user.email": "a@example.com", "user.age": 30, "tags": '["x", "y"]', "n": "1"},
                                 {"user.email": None, "user.age": None, "tags": None, "n": "two"}]


@pytest.mark.parametrize(("head", "complete", "expected"), [
    ("id,email\n1,a@example.com\n", True, ","),
    ("id;name;email\n1;Smith, John;a@example.com\n2;Doe, Jane;b@example.com\n", True, ";"),
    ("name,notes\nAnn,hello; world\nBob,a; b; c\n", True, ","),
    ("a|b\n1|2\n", True, "|"),
    ("a\tb\n1\t2\n", True, "\t"),
    ("single\n1\n2\n", True, ","),  # one column: no candidate splits the header
    ("a,b\n1,2\n3,4,5\n", True, ","),  # a ragged row is the reader's to report
    ("a;b\n1;2\n3;4;5\n", True, ";"),
    ('id;note\n1;"line one\nline two, still; the note"\n', True, ";"),  # quoted separators and line breaks
    ("a;b,c\n1;2,3\n", True, ","),  # a tie: the earlier candidate
    ("a;b,c\n1;2,3\n4;5,6\n7;8", True, ";"),  # the last row agrees with ";" only
    ("a;b,c\n1;2,3\n4;5,6\n7;8", False, ","),  # ... but a cut-off row is not counted: a tie again
    ("", True, ","),
])
def test_the_csv_separator_is_the_one_that_splits_the_header_and_the_rows_agreeing_with_it(
        head: str, complete: bool, expected: str) -> None:
    assert io.sniff_delimiter(head.encode(), complete=complete) == expected


_FIELD = st.text(st.sampled_from('ab Z9@."\n'), max_size=12)


@settings(max_examples=150, deadline=None)
@given(delimiter=st.sampled_from(io.CSV_DELIMITERS), data=st.data())
def test_a_written_table_is_read_back_with_its_separator(delimiter: str, data: st.DataObject) -> None:
    """Whatever the values (quotes, line breaks, the separator itself, empty fields), a table of two or more
    columns written with a separator is sniffed as written."""
    width = data.draw(st.integers(2, 6))
    header = data.draw(st.lists(st.text("abcxyz_", min_size=1, max_size=8), min_size=width, max_size=width))
    rows = data.draw(st.lists(st.lists(_FIELD | st.just(delimiter), min_size=width, max_size=width), max_size=15))
    buffer = StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows([header, *rows])
    assert io.sniff_delimiter(buffer.getvalue().encode(), complete=True) == delimiter


def test_a_csv_file_with_another_separator_is_detected_compressed_or_not(tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text("name;email\nAnn;ann@example.com\n", encoding="utf-8")
    (tmp_path / "export.csv.gz").write_bytes(gzip.compress(b"name|email\nAnn|ann@example.com\n"))
    (tmp_path / "tabs.tsv").write_text("name;x\temail\nAnn;y\tann@example.com\n", encoding="utf-8")
    assert io.detect_format(tmp_path / "export.csv") == io.FileFormat("csv", False, ";")
    assert io.detect_format(tmp_path / "export.csv.gz") == io.FileFormat("csv", True, "|")
    assert io.detect_format(tmp_path / "tabs.tsv") == io.FileFormat("tsv")  # a .tsv file is tab-separated
    assert [io.FileFormat(k, False, d).separator for k, d in [("csv", None), ("tsv", None), ("csv", ";")]] == [
        ",", "\t", ";"]


def test_format_detection_by_extension_and_magic_bytes(tmp_path: Path) -> None:
    pq.write_table(_people_table(), tmp_path / "export.dat")
    (tmp_path / "config.json").write_text('{\n  "password": "x"\n}\n', encoding="utf-8")
    (tmp_path / "events.json").write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    (tmp_path / "README").write_text("plain words\n", encoding="utf-8")
    (tmp_path / "data").write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert io.detect_format(tmp_path / "export.dat") == io.FileFormat("parquet")
    assert io.detect_format(tmp_path / "config.json") == io.FileFormat("text")
    assert io.detect_format(tmp_path / "events.json") == io.FileFormat("jsonl")
    assert io.detect_format(tmp_path / "README") == io.FileFormat("text")
    assert io.detect_format(tmp_path / "data") == io.FileFormat("text", True)
    with pytest.raises(io.UnreadableFile) as missing:
        io.detect_format(tmp_path / "absent.csv")
    assert missing.value.reason == io.CANNOT_OPEN.format(error="No such file or directory")
    with pytest.raises(io.UnreadableFile) as directory:
        io.detect_format(tmp_path)
    assert (directory.value.path, directory.value.reason) == (str(tmp_path), io.NOT_A_FILE)


def test_excel_sheets_are_tables_and_rows_count_from_the_first_data_row(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "Staff"
    first.append(["name", None, "name"])
    first.append(["Ann", 4111111111111111, "x", "extra@example.com"])
    second = workbook.create_sheet("Contacts")
    second.append(["email"])
    second.append([None])
    second.append(["bo@example.com"])
    workbook.save(path)
    batches = list(io.read_batches(path, io.detect_format(path)))
    assert [(io.batch_table(b), b.schema.names, b.to_pylist()) for b in batches] == [
        ("Staff", ["name", "column_2", "name_2", "column_4"],
         [{"name": "Ann", "column_2": "4111111111111111", "name_2": "x", "column_4": "extra@example.com"}]),
        ("Contacts", ["email"], [{"email": None}, {"email": "bo@example.com"}])]
    result = scanner.scan_paths([path])
    assert _shape(result) == [("Staff", "column_2", "CREDIT_CARD", 1, [(1, 0, 16)]),
                              ("Staff", "column_4", "EMAIL_ADDRESS", 1, [(1, 0, 17)]),
                              ("Contacts", "email", "EMAIL_ADDRESS", 1, [(2, 0, 14)])]


def _email_parquet(path: Path, rows: int = 1000, group: int = 100) -> None:
    emails = [f"user{i}@example.com" if i % 10 == 0 else f"order {i}" for i in range(rows)]
    pq.write_table(pa.table({"email": emails, "n": list(range(rows))}), path, row_group_size=group)


def test_parquet_sampling_is_seeded_uniform_and_states_its_confidence(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    _email_parquet(path)
    # The draw depends on the file's path (a temporary directory here), so the sample is large enough that it holds
    # some of the 100 e-mail rows whatever the path (it misses them all with a chance of 0.9 ** 200, 7e-10).
    first = scanner.scan_paths([path], sample=200, seed=7, max_samples=200)
    again = scanner.scan_paths([path], sample=200, seed=7, max_samples=200)
    other = scanner.scan_paths([path], sample=200, seed=8, max_samples=200)
    assert _comparable(first) == _comparable(again)
    assert _shape(first) != _shape(other)
    (report,) = first.files
    assert report.sample == {"requested": 200, "rows": 200, "rows_total": 1000,
                             "prevalence_upper_95": 1 - 0.05 ** (1 / 200)}
    assert report.sha256 is None and first.summary["fingerprint"] is None
    assert (report.rows, first.summary["sample"], first.summary["seed"]) == (200, 200, 7)
    (group,) = first.findings
    rows = [s.row for s in group.samples]
    assert rows == sorted(rows) and len(set(rows)) == group.count
    assert all((row - 1) % 10 == 0 for row in rows)
    assert [(s.start, s.end) for s in group.samples] == [(0, len(f"user{row - 1}@example.com")) for row in rows]
    packed = scanner.scan_paths(_gzip(tmp_path / "events.parquet"), sample=200, seed=7, max_samples=200)
    assert packed.files[0].sample == report.sample
    assert all((s.row - 1) % 10 == 0 for g in packed.findings for s in g.samples)
    pq.write_table(pa.table({"email": pa.array([], type=pa.string())}), tmp_path / "empty.parquet")
    empty = scanner.scan_paths(tmp_path / "empty.parquet", sample=5)
    assert empty.files[0].sample == {"requested": 5, "rows": 0, "rows_total": 0, "prevalence_upper_95": None}


def test_streaming_sample_does_not_depend_on_batch_size_and_covers_small_files(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    with path.open("w", encoding="utf-8") as file:
        file.write("email\n")
        file.writelines(f"user{i}@example.com\n" if i % 10 == 0 else f"order {i}\n" for i in range(1000))
    small = scanner.scan_paths([path], sample=40, seed=3, max_samples=40, batch_rows=64)
    large = scanner.scan_paths([path], sample=40, seed=3, max_samples=40)
    assert _comparable(small) == _comparable(large)
    assert small.files[0].sample == {"requested": 40, "rows": 40, "rows_total": 1000,
                                     "prevalence_upper_95": 1 - 0.05 ** (1 / 40)}
    assert all((s.row - 1) % 10 == 0 for g in small.findings for s in g.samples)
    whole = scanner.scan_paths([path], sample=5000)
    assert whole.files[0].sample == {"requested": 5000, "rows": 1000, "rows_total": 1000, "prevalence_upper_95": 0.0}
    assert whole.summary["by_entity"] == {"EMAIL_ADDRESS": 100}


def test_samples_are_capped_and_previews_come_only_from_the_callback(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    _email_parquet(path)
    seen: list[str] = []

    def preview(value: str) -> str:
        seen.append(value)
        return value[:2] + "*" * (len(value) - 2)

    result = scanner.scan_paths([path], on_sample=preview)
    (group,) = result.findings
    assert (group.count, len(group.samples)) == (100, scanner.DEFAULT_MAX_SAMPLES)
    assert [s.row for s in group.samples] == [1 + 10 * i for i in range(10)]
    assert seen == [f"user{10 * i}@example.com" for i in range(10)]
    assert group.samples[1].preview == "us" + "*" * 16
    dumped = json.dumps(result.as_dict())
    assert "user10@example.com" not in dumped and "example.com" not in dumped
    bare = scanner.scan_paths([path], max_samples=0)
    assert (bare.findings[0].count, bare.findings[0].samples) == (100, [])


def test_progress_reports_bytes_up_to_the_total(tmp_path: Path) -> None:
    paths = [_make(tmp_path, "csv"), _make(tmp_path, "parquet")]
    total = sum(p.stat().st_size for p in paths)
    calls: list[tuple[int, int]] = []
    scanner.scan_paths(paths, progress=lambda done, size: calls.append((done, size)))
    assert calls[-1] == (total, total)
    assert all(size == total for _, size in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_options_are_checked(tmp_path: Path) -> None:
    path = _make(tmp_path, "csv")
    cases = [({"workers": 0}, scanner.BAD_WORKERS.format(value=0)),
             ({"sample": 0}, scanner.BAD_SAMPLE.format(value=0)),
             ({"max_samples": -1}, scanner.BAD_MAX_SAMPLES.format(value=-1)),
             ({"engine": "spark"}, scanner.BAD_ENGINE.format(value="spark")),
             ({"entities": ["NOPE"]}, UNKNOWN_ENTITY.format(entity="NOPE",
                                                            supported=", ".join(default_analyzer().entities)))]
    for options, message in cases:
        with pytest.raises(ValueError) as error:
            scanner.scan_paths([path], **options)  # type: ignore[arg-type]
        assert str(error.value) == message
    only = scanner.scan_paths([path], entities=["CREDIT_CARD"])
    assert [g.entity for g in only.findings] == ["CREDIT_CARD"]
    assert only.summary["entities"] == ["CREDIT_CARD"]


def _parallel_tree(root: Path) -> Path:
    root.mkdir()
    _write_csv(root / "people.csv")
    (root / "ticket.txt").write_text(TICKET, encoding="utf-8")
    _email_parquet(root / "events.parquet", rows=4000, group=500)
    (root / "photo.bin").write_bytes(bytes(range(256)))
    return root


def test_two_worker_processes_give_the_same_result_as_one(tmp_path: Path) -> None:
    root = _parallel_tree(tmp_path / "tree")
    events = root / "events.parquet"
    pair = max(io.parquet_layout(events, io.FileFormat("parquet")).row_group_bytes) + 1  # two row groups a unit
    units = scanner._plan(list(scanner._expand([root])), scanner.ScanOptions(unit_bytes=pair), parallelism=2)
    assert [(Path(u.path).name, u.row_groups, u.first_row, u.part) for u in units if u.row_groups] == [
        ("events.parquet", (0, 1), 0, 0), ("events.parquet", (2, 3), 1000, 1),
        ("events.parquet", (4, 5), 2000, 2), ("events.parquet", (6, 7), 3000, 3)]
    assert sum(u.bytes for u in units if u.row_groups) == events.stat().st_size
    halves = scanner._plan([(str(events), None)], scanner.ScanOptions(), parallelism=2)
    assert len(halves) == 2 and sum((u.row_groups for u in halves), ()) == tuple(range(8))
    assert scanner._plan([(str(events), None)], scanner.ScanOptions(), parallelism=1)[0].row_groups is None
    one = scanner.scan_paths([root], unit_bytes=pair)
    two = scanner.scan_paths([root], workers=2, unit_bytes=pair)
    assert _comparable(one) == _comparable(two)
    assert two.summary["run"]["workers"] == 2  # type: ignore[index]
    events = [g for g in one.findings if g.path.endswith("events.parquet")]
    assert [(g.count, [s.row for s in g.samples]) for g in events] == [(400, [1 + 10 * i for i in range(10)])]


def test_ray_engine_gives_the_same_result(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'aicoe[ray]')")
    root = _parallel_tree(tmp_path / "tree")
    pair = max(io.parquet_layout(root / "events.parquet", io.FileFormat("parquet")).row_group_bytes) + 1
    local = scanner.scan_paths([root], unit_bytes=pair)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        distributed = scanner.scan_paths([root], engine="ray", unit_bytes=pair)
    finally:
        ray.shutdown()
    assert _comparable(local) == _comparable(distributed)
    assert distributed.summary["run"]["engine"] == "ray"  # type: ignore[index]


# The parts of the SARIF 2.1.0 schema (docs.oasis-open.org/sarif/sarif/v2.1.0) a consumer relies on: the
# required properties and value types of each object this scanner writes.
SARIF_SUBSET = {
    "type": "object", "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "items": {
            "type": "object", "required": ["tool"],
            "properties": {
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": {
                        "type": "object", "required": ["id"],
                        "properties": {"id": {"type": "string"},
                                       "shortDescription": {"$ref": "#/$defs/message"},
                                       "defaultConfiguration": {"type": "object", "properties": {
                                           "level": {"$ref": "#/$defs/level"}}}}}}}}}},
                "invocations": {"type": "array", "items": {
                    "type": "object", "required": ["executionSuccessful"],
                    "properties": {"toolExecutionNotifications": {"type": "array", "items": {
                        "type": "object", "required": ["message"],
                        "properties": {"message": {"$ref": "#/$defs/message"}, "level": {"$ref": "#/$defs/level"},
                                       "locations": {"type": "array", "items": {"$ref": "#/$defs/location"}}}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["message"],
                    "properties": {"ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": 0},
                                   "level": {"$ref": "#/$defs/level"}, "message": {"$ref": "#/$defs/message"},
                                   "locations": {"type": "array", "items": {"$ref": "#/$defs/location"}}}}}}}}},
    "$defs": {
        "level": {"enum": ["none", "note", "warning", "error"]},
        "message": {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
                    "properties": {"text": {"type": "string"}}},
        "location": {"type": "object", "properties": {"physicalLocation": {
            "type": "object", "anyOf": [{"required": ["artifactLocation"]}, {"required": ["address"]}],
            "properties": {"artifactLocation": {"type": "object", "properties": {"uri": {"type": "string",
                                                                                        "format": "uri-reference"}}},
                           "region": {"type": "object", "properties": {
                               "startLine": {"type": "integer", "minimum": 1},
                               "startColumn": {"type": "integer", "minimum": 1},
                               "endColumn": {"type": "integer", "minimum": 1}}}}}}},
    },
}


def test_sarif_has_one_rule_per_entity_and_exact_regions(tmp_path: Path) -> None:
    csv_path = _make(tmp_path, "csv")
    text_path = tmp_path / "ticket notes.txt"
    text_path.write_text(TICKET, encoding="utf-8")
    (tmp_path / "photo.bin").write_bytes(bytes(range(256)))
    result = scanner.scan_paths([csv_path, text_path, tmp_path / "photo.bin"], on_sample=lambda v: "*" * len(v))
    log = sarif.to_sarif(result, tool_version="9.9.9")
    jsonschema.validate(log, SARIF_SUBSET)
    (run,) = log["runs"]  # type: ignore[misc]
    assert run["tool"]["driver"]["version"] == "9.9.9"
    assert [(r["id"], r["defaultConfiguration"]["level"], r["properties"]["security-severity"])
            for r in run["tool"]["driver"]["rules"]] == [("CREDIT_CARD", "error", "8.0"),
                                                         ("EMAIL_ADDRESS", "warning", "5.5")]
    located = [(r["ruleId"], r["ruleIndex"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"]["region"], r["properties"]["column"]) for r in run["results"]]
    csv_uri, text_uri = sarif.path_uri(str(csv_path)), sarif.path_uri(str(text_path))
    assert text_uri.endswith("/ticket%20notes.txt") and text_uri.startswith("file:///")
    assert located == [
        ("EMAIL_ADDRESS", 1, csv_uri, {"startLine": 1}, "email"),
        ("EMAIL_ADDRESS", 1, csv_uri, {"startLine": 2}, "email"),
        ("EMAIL_ADDRESS", 1, csv_uri, {"startLine": 4}, "email"),
        ("CREDIT_CARD", 0, csv_uri, {"startLine": 1}, "card_number"),
        ("CREDIT_CARD", 0, csv_uri, {"startLine": 3}, "card_number"),
        ("EMAIL_ADDRESS", 1, csv_uri, {"startLine": 3}, "notes"),
        ("CREDIT_CARD", 0, text_uri, {"startLine": 3, "startColumn": 16, "endColumn": 35}, None),
        ("EMAIL_ADDRESS", 1, text_uri, {"startLine": 1, "startColumn": 20, "endColumn": 39}, None),
    ]
    assert run["results"][5]["properties"] == {"occurrences": 1, "maxScore": round(result.findings[2].max_score, 4),
                                               "table": None, "column": "notes", "row": 3, "start": 12, "end": 26,
                                               "preview": "*" * 14}
    assert run["results"][0]["message"]["text"] == "EMAIL_ADDRESS in column 'email': 3 occurrences in this column"
    (notice,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notice["message"]["text"] == f"skipped: {io.UNKNOWN_FORMAT}"
    text = json.dumps(log)
    assert "example.com" not in text and "4111" not in text
    assert sarif.path_uri("data/a b.csv") == "data/a%20b.csv"


def test_a_csv_record_longer_than_the_readers_block_is_read_and_no_row_twice(tmp_path: Path) -> None:
    """A field of 3 MiB (a pasted document, an encoded blob) after 150,000 short rows (more than a block of them
    already handed over): the reader starts again with bigger blocks and skips those rows."""
    path = tmp_path / "notes.csv"
    rows = [(str(i), f"user{i}@example.com" if i % 100 == 0 else "none") for i in range(160_000)]
    rows.insert(150_000, ("big", "x" * (3 << 20) + " ann@example.com"))
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([("id", "note"), *rows])
    assert path.stat().st_size > 2 * io.CSV_BLOCK_BYTES
    read = [row for batch in io.read_batches(path, io.FileFormat("csv")) for row in batch.to_pylist()]
    assert [(row["id"], row["note"]) for row in read] == rows
    result = scanner.scan_paths(path)
    assert (result.files[0].status, result.files[0].rows, result.summary["by_entity"]) == (
        "scanned", 160_001, {"EMAIL_ADDRESS": 1601})
    redacted = rewrite.redact_file(path, tmp_path / "out.csv")  # Python's csv module reads such a field too
    assert (redacted.records, redacted.counts) == (160_001, {"EMAIL_ADDRESS": 1601})
