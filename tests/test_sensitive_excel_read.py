"""Excel workbooks are read by calamine up to ``io.CALAMINE_MAX_BYTES`` and streamed by openpyxl beyond: both
readers must give the same batches, so a finding never depends on the size of the file it is in."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicoe.engines.sensitive import io, rewrite, scanner

# What a workbook holds that both readers read the same way. A text starting with "=" is a formula to openpyxl and
# one starting with "#" may be an error value (#N/A), read as empty by calamine and as its text by openpyxl.
_text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_characters="=#"), max_size=12)
_values = st.one_of(
    st.none(), _text, st.integers(-10**15, 10**15), st.booleans(),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda f: f == 0 or abs(f) > 1e-9),
    st.datetimes(min_value=dt.datetime(1901, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
        lambda d: d.replace(microsecond=0)),
    st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2099, 12, 31)),
    st.times().map(lambda t: t.replace(microsecond=0)),
    st.integers(0, 10**7).map(lambda seconds: dt.timedelta(seconds=seconds)),
)
_cells = st.dictionaries(st.tuples(st.integers(1, 9), st.integers(1, 7)), _values, max_size=30)


def _batches(path: Path) -> list[tuple[list[str], bytes, list[dict[str, object]]]]:
    return [(batch.schema.names, batch.schema.metadata[io.TABLE_METADATA_KEY], batch.to_pylist())
            for batch in io.read_batches(path, io.FileFormat("excel"))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sheets=st.lists(_cells, min_size=1, max_size=3))
def test_calamine_and_openpyxl_read_a_workbook_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     sheets: list[dict[tuple[int, int], object]]) -> None:
    path = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for number, cells in enumerate(sheets):
        sheet = workbook.create_sheet(f"Sheet {number}")
        for (row, column), value in cells.items():
            sheet.cell(row=row, column=column, value=value)
    workbook.save(path)
    fast = _batches(path)
    monkeypatch.setattr(io, "CALAMINE_MAX_BYTES", 0)
    assert _batches(path) == fast


def test_a_big_workbook_streams_and_a_small_one_is_read_whole_with_the_same_findings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "people.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "People"
    sheet.append(["name", "email", "joined", "card"])
    for i in range(300):
        sheet.append([f"user {i}", f"user{i}@example.com", dt.date(2020, 1, 1) + dt.timedelta(days=i),
                      "4111 1111 1111 1111" if i % 50 == 0 else i * 1.5])
    workbook.save(path)
    read_whole = scanner.scan_paths(path).as_dict()
    monkeypatch.setattr(io, "CALAMINE_MAX_BYTES", 0)
    streamed = scanner.scan_paths(path).as_dict()
    for result in (read_whole, streamed):
        result["summary"].pop("run")  # type: ignore[union-attr]
    assert streamed == read_whole
    assert read_whole["summary"]["by_entity"] == {"CREDIT_CARD": 6, "EMAIL_ADDRESS": 300}  # type: ignore[index]


def test_a_sheet_whose_xml_breaks_off_is_reported_by_either_reader_and_by_redaction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, path = tmp_path / "whole.xlsx", tmp_path / "broken.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["email", "ann@example.com"])
    workbook.save(whole)
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet1.xml" else data)
    for limit in (io.CALAMINE_MAX_BYTES, 0):
        monkeypatch.setattr(io, "CALAMINE_MAX_BYTES", limit)
        (report,) = scanner.scan_paths(path).files
        assert (report.status, report.reason) == ("skipped", io.CORRUPT_FILE.format(kind="Excel"))
    with pytest.raises(io.UnreadableFile) as refused:
        rewrite.redact_file(path, tmp_path / "out.xlsx")
    assert refused.value.reason == io.CORRUPT_FILE.format(kind="Excel") and not (tmp_path / "out.xlsx").exists()
