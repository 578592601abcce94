"""JSON documents that are one array, read an element at a time (``aicoe.engines.sensitive.jsondoc``), and scanned
and redacted as tables of records."""

from __future__ import annotations

import gzip
import io as stdio
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import io, scanner
from aicoe.engines.sensitive import rewrite as rw
from aicoe.engines.sensitive.jsondoc import ArrayReader, DocumentError

_scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False,
                                                                               allow_infinity=False) | st.text()
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
_spacing = st.sampled_from(["", " ", "\n", "\r\n  ", "\t"])


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[object]]:
    """An array written the ways exporters write one: indented or not, any JSON white space between the tokens,
    ASCII escapes or not, a byte order mark or not."""
    values = draw(st.lists(_values, max_size=6))
    ascii_only = draw(st.booleans())
    parts = [draw(st.sampled_from(["", "\ufeff"])), draw(_spacing), "["]
    for number, value in enumerate(values):
        parts += [draw(_spacing), "," if number else "", draw(_spacing),
                  json.dumps(value, ensure_ascii=ascii_only, indent=draw(st.sampled_from([None, 2])))]
    parts += [draw(_spacing), "]", draw(_spacing)]
    return "".join(parts), values


@settings(max_examples=300, deadline=None)
@given(document=documents(), read_bytes=st.integers(1, 40))
def test_elements_come_back_whole_with_the_text_around_them_wherever_the_blocks_end(
        document: tuple[str, list[object]], read_bytes: int) -> None:
    text, values = document
    reader = ArrayReader(stdio.BytesIO(text.encode("utf-8")), read_bytes=read_bytes)
    elements = list(reader)
    assert [element.value for element in elements] == values
    assert "".join(element.before + element.text for element in elements) + reader.tail == text
    assert [element.line for element in elements] == [
        text.count("\n", 0, len("".join(e.before + e.text for e in elements[:i])) + len(element.before)) + 1
        for i, element in enumerate(elements)]
    assert [element.number for element in elements] == list(range(1, len(values) + 1))


@settings(max_examples=150, deadline=None)
@given(document=documents(), cut=st.integers(0, 10**6))
def test_a_document_cut_short_is_refused_after_the_elements_before_the_cut(
        document: tuple[str, list[object]], cut: int) -> None:
    text, values = document
    data = text.encode("utf-8")
    end = data.rstrip(b" \t\r\n").rfind(b"]")
    data = data[: cut % (end + 1)]  # short of the closing bracket
    read: list[object] = []
    with pytest.raises(DocumentError) as refused:
        for element in ArrayReader(stdio.BytesIO(data), read_bytes=7):
            read.append(element.value)
    assert read[:-1] == values[: max(len(read) - 1, 0)]
    if read and read[-1] != values[len(read) - 1]:  # a number cut short is still a number
        assert isinstance(read[-1], int | float) and isinstance(values[len(read) - 1], int | float)
    assert refused.value.line is None or 1 <= refused.value.line <= data.count(b"\n") + 1


@pytest.mark.parametrize(("data", "line", "values"), [
    (b"", 1, []), (b"{\"a\": 1}", 1, []), (b"[1,]", 1, [1]), (b"[1 2]", 1, [1]), (b"[", 1, []),
    (b"[1]x", 1, [1]), (b"[\n  {\"a\": }\n]", 2, []), (b"[1,\n\n2", 3, [1, 2]), (b"[1, 2]\n]", 2, [1, 2]),
])
def test_faults_name_their_line(data: bytes, line: int, values: list[object]) -> None:
    read: list[object] = []
    with pytest.raises(DocumentError) as refused:
        for element in ArrayReader(stdio.BytesIO(data), read_bytes=2):
            read.append(element.value)
    assert (refused.value.line, read) == (line, values)


def test_a_byte_that_is_not_utf8_is_named_by_its_offset() -> None:
    data = '["caf\u00e9", "x'.encode() + b"\xff" + b'"]'
    with pytest.raises(DocumentError) as refused:
        list(ArrayReader(stdio.BytesIO(data), read_bytes=3))
    assert (refused.value.byte, refused.value.offset) == (0xFF, data.index(b"\xff"))


def test_a_json_file_is_an_array_of_records_a_record_per_line_or_text(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_bytes(b"\xef\xbb\xbf \n [ {\"a\": 1} ]")
    (tmp_path / "events.json").write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    (tmp_path / "config.json").write_text('{\n  "password": "x"\n}\n', encoding="utf-8")
    (tmp_path / "export.json.gz").write_bytes(gzip.compress(b"[1, 2]"))
    assert [io.detect_format(tmp_path / name) for name in ("export.json", "events.json", "config.json",
                                                           "export.json.gz")] == [
        io.FileFormat("json"), io.FileFormat("jsonl"), io.FileFormat("text"), io.FileFormat("json", True)]


def test_records_are_flattened_and_other_elements_are_one_value(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([{"user": {"email": "ann@example.com"}, "tags": ["x"]}, "bob@example.org",
                                [1, "cy@example.net"], 7]), encoding="utf-8")
    (batch,) = io.read_batches(path, io.FileFormat("json"))
    assert batch.to_pylist() == [
        {"user.email": "ann@example.com", "tags": '["x"]', "value": None},
        {"user.email": None, "tags": None, "value": "bob@example.org"},
        {"user.email": None, "tags": None, "value": '[1, "cy@example.net"]'},
        {"user.email": None, "tags": None, "value": "7"}]
    result = scanner.scan_paths(path)
    assert [(g.column, g.entity, [(s.row, s.start, s.end) for s in g.samples]) for g in result.findings] == [
        ("user.email", "EMAIL_ADDRESS", [(1, 0, 15)]),
        ("value", "EMAIL_ADDRESS", [(2, 0, 15), (3, 5, 19)])]


def test_a_fault_keeps_the_records_before_it_and_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    records = [{"email": f"user{i}@example.com"} for i in range(io.JSONL_BATCH_ROWS + 10)]
    text = json.dumps(records, indent=1)
    path.write_text(text[: text.rindex("}")], encoding="utf-8")  # the last record is not closed
    (report,) = scanner.scan_paths(path, max_samples=0).files
    assert (report.status, report.rows) == ("partial", io.JSONL_BATCH_ROWS)
    assert report.reason == io.INVALID_JSON.format(line=text[: text.rindex("}")].count("\n") + 1)
    bad = tmp_path / "latin1.json"
    bad.write_bytes('["caf\u00e9"]'.encode("latin-1"))
    (report,) = scanner.scan_paths(bad).files
    assert (report.status, report.reason) == ("skipped", io.NOT_UTF8.format(byte=0xE9, offset=5))


def test_redaction_changes_only_the_string_literals_that_hold_a_finding(tmp_path: Path) -> None:
    source = tmp_path / "people.json.gz"
    text = ('\ufeff[\n  {\n    "name": "Ann",\n    "contact": {"email": "ann@example.com", "tel": "+1 212 555 0147"},\n'
            '    "score": 1.50\n  },\n  "zoe@example.com" ,\n  {"note": "nothing here", "n": [1, 2]}\n]\n')
    source.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    result = rw.redact_file(source, tmp_path / "out.json.gz")
    written = gzip.decompress((tmp_path / "out.json.gz").read_bytes()).decode("utf-8")
    assert written == (text.replace('"ann@example.com"', '"<EMAIL_ADDRESS>"')
                       .replace('"+1 212 555 0147"', '"<PHONE_NUMBER>"')
                       .replace('"zoe@example.com"', '"<EMAIL_ADDRESS>"'))
    assert (result.format, result.records, result.counts) == (io.FileFormat("json", True), 3,
                                                              {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1})


def test_an_element_with_a_repeated_key_is_written_whole_and_keeps_its_place(tmp_path: Path) -> None:
    source = tmp_path / "dup.json"
    source.write_text('[{"a": 1},\n {"email": "x", "email": "ann@example.com"}]', encoding="utf-8")
    rw.redact_file(source, tmp_path / "out.json")
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == '[{"a": 1},\n {"email": "<EMAIL_ADDRESS>"}]'


def test_json_nested_deeper_than_the_parser_follows_is_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    deep = '{"a": ' * 5000 + '"ann@example.com"' + "}" * 5000
    (tmp_path / "deep.jsonl").write_text('{"email": "bob@example.org"}\n' + deep + "\n", encoding="utf-8")
    (tmp_path / "deep.json").write_text("[" + deep + "]", encoding="utf-8")
    (tmp_path / "fine.json").write_text('[{"email": "cy@example.net"}]', encoding="utf-8")
    result = scanner.scan_paths(tmp_path)
    assert {Path(f.path).name: (f.status, f.reason) for f in result.files} == {
        "deep.jsonl": ("skipped", io.JSON_TOO_DEEP), "deep.json": ("skipped", io.JSON_TOO_DEEP),
        "fine.json": ("scanned", None)}
    assert result.summary["by_entity"] == {"EMAIL_ADDRESS": 1}
    for name in ("deep.jsonl", "deep.json"):
        with pytest.raises(io.UnreadableFile) as refused:
            rw.redact_file(tmp_path / name, tmp_path / f"out-{name}")
        assert refused.value.reason == io.JSON_TOO_DEEP and not (tmp_path / f"out-{name}").exists()


def test_a_lone_surrogate_escape_is_read_as_one_question_mark(tmp_path: Path) -> None:
    """JSON may escape half a surrogate pair ("\\ud800"), which is no character at all: Arrow's UTF-8 cannot hold
    it, so the scanner reads it as "?" (as the analyzer does), keeping every other offset."""
    (tmp_path / "odd.json").write_text('[{"note": "\\ud800 ann@example.com"}]', encoding="utf-8")
    (tmp_path / "odd.jsonl").write_text('{"note": "x\\udfff bob@example.org"}\n', encoding="utf-8")
    result = scanner.scan_paths(tmp_path)
    assert [(Path(g.path).name, g.column, [(s.start, s.end) for s in g.samples]) for g in result.findings] == [
        ("odd.json", "note", [(2, 17)]), ("odd.jsonl", "note", [(3, 18)])]
    (batch,) = io.read_batches(tmp_path / "odd.json", io.FileFormat("json"))
    assert batch.to_pylist() == [{"note": "? ann@example.com"}]
