"""``aicoe redact`` on Excel workbooks: every sheet rewritten in place, judged as the scanner reads it."""

from __future__ import annotations

import gzip
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font
from typer.testing import CliRunner

from aicoe.cli.main import app
from aicoe.engines.sensitive import io as sensitive_io
from aicoe.engines.sensitive import redact as r
from aicoe.engines.sensitive import rewrite as rw
from aicoe.engines.sensitive import scanner

KEY = bytes(range(32))
EMAIL, OTHER, CARD = "ann.lee@example.com", "bob@example.org", "4111 1111 1111 1111"
BORN = datetime(1980, 5, 17)
FORMULA = '=CONCATENATE("write to ", "bob@example.org")'


def _workbook(path: Path) -> Path:
    """Two sheets: a table with text, numbers, a date and a formula; a sheet whose table starts at C3."""
    book = openpyxl.Workbook()
    people = book.active
    people.title = "People"
    people.append(["id", "email", "card_number", "amount", "born", "notes", "greeting"])
    people.append([1, EMAIL, CARD, 12.5, BORN, f"call {OTHER} today", FORMULA])
    people.append([2, None, 4111111111111111, 7.0, BORN, "=not a formula", None])
    people.append([3, "none", "n/a", 3.25, None, None, "=A2+1"])
    for cell in people[1]:
        cell.font = Font(bold=True)
    people.column_dimensions["B"].width = 30
    notes = book.create_sheet("Notes")
    notes["C3"] = "remark"
    notes["C4"] = f"card {CARD} on file"
    notes["C4"].data_type = "s"
    people["F3"].data_type = "s"  # text that starts with "=", as Excel keeps it
    book.save(path)
    return path


def _values(path: Path) -> dict[str, list[tuple[object, ...]]]:
    book = openpyxl.load_workbook(path)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def test_every_sheet_is_redacted_in_place_and_a_scan_then_finds_nothing(tmp_path: Path) -> None:
    src = _workbook(tmp_path / "people.xlsx")
    before = src.read_bytes()
    result = rw.redact_file(src, tmp_path / "out.xlsx")
    assert src.read_bytes() == before
    assert (result.format, result.records) == (sensitive_io.FileFormat("excel"), 3 + 3)
    assert result.counts == {"CREDIT_CARD": 3, "EMAIL_ADDRESS": 3}
    assert _values(tmp_path / "out.xlsx") == {
        "People": [("id", "email", "card_number", "amount", "born", "notes", "greeting"),
                   (1, "<EMAIL_ADDRESS>", "<CREDIT_CARD>", 12.5, BORN, "call <EMAIL_ADDRESS> today", None),
                   (2, None, "<CREDIT_CARD>", 7, BORN, "=not a formula", None),
                   (3, "none", "n/a", 3.25, None, None, "=A2+1")],
        "Notes": [(None, None, None), (None, None, None), (None, None, "remark"),
                  (None, None, "card <CREDIT_CARD> on file")]}
    out = openpyxl.load_workbook(tmp_path / "out.xlsx")
    people = out["People"]
    assert [cell.font.bold for cell in people[1]] == [True] * 7
    assert people.column_dimensions["B"].width == 30
    assert (people["C3"].data_type, people["D3"].data_type, people["E2"].is_date) == ("s", "n", True)
    assert (people["G4"].data_type, people["F3"].data_type) == ("f", "s")  # a clean formula stays a formula
    assert scanner.scan_paths([src]).findings
    assert scanner.scan_paths([tmp_path / "out.xlsx"]).findings == []
    with zipfile.ZipFile(tmp_path / "out.xlsx") as archive:
        xml = b"".join(archive.read(name) for name in archive.namelist())
    assert EMAIL.encode() not in xml and OTHER.encode() not in xml and b"4111" not in xml


@pytest.mark.parametrize(("operator", "email"), [
    (r.Mask(), r.Mask().apply(EMAIL, "EMAIL_ADDRESS")), (r.Redact(), None), (r.Replace("[x]"), "[x]"),
    (r.Hash(KEY), r.Hash(KEY).apply(EMAIL, "EMAIL_ADDRESS")),
], ids=["mask", "redact", "replace", "hash"])
def test_each_operator_writes_what_it_makes(tmp_path: Path, operator: r.Operator, email: str | None) -> None:
    src = _workbook(tmp_path / "people.xlsx")
    rw.redact_file(src, tmp_path / "out.xlsx", default=operator, entities=["EMAIL_ADDRESS"])
    people = openpyxl.load_workbook(tmp_path / "out.xlsx")["People"]
    assert people["B2"].value == email
    assert people["C2"].value == CARD and people["C3"].value == 4111111111111111


def test_encrypted_cells_decrypt_back_as_text(tmp_path: Path) -> None:
    src = _workbook(tmp_path / "people.xlsx")
    rw.redact_file(src, tmp_path / "enc.xlsx", default=r.Encrypt(KEY))
    assert openpyxl.load_workbook(tmp_path / "enc.xlsx")["People"]["B2"].value.startswith("<ENC:EMAIL_ADDRESS:")
    result = rw.decrypt_file(tmp_path / "enc.xlsx", tmp_path / "dec.xlsx", key=KEY)
    assert result.counts == {"CREDIT_CARD": 3, "EMAIL_ADDRESS": 2}
    expected = _values(src)
    expected["People"][1] = expected["People"][1][:6] + (None,)  # the formula that wrote an address is gone
    expected["People"][2] = (2, None, "4111111111111111") + expected["People"][2][3:]  # a number comes back as text
    assert _values(tmp_path / "dec.xlsx") == expected


def test_gzip_workbook_stays_gzip(tmp_path: Path) -> None:
    plain = _workbook(tmp_path / "people.xlsx")
    src = tmp_path / "people.xlsx.gz"
    src.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    result = rw.redact_file(src, tmp_path / "out.xlsx.gz")
    assert result.format == sensitive_io.FileFormat("excel", True)
    (tmp_path / "out.xlsx").write_bytes(gzip.decompress((tmp_path / "out.xlsx.gz").read_bytes()))
    assert _values(tmp_path / "out.xlsx")["People"][1][1] == "<EMAIL_ADDRESS>"


@pytest.mark.parametrize(("content", "reason"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + "EncryptedPackage".encode("utf-16-le"),
     sensitive_io.ENCRYPTED_WORKBOOK),
    (b"PK\x03\x04" + b"\0" * 200, sensitive_io.CORRUPT_FILE.format(kind="Excel")),
], ids=["password", "corrupt"])
def test_unreadable_workbooks_are_reported_as_when_scanning(tmp_path: Path, content: bytes, reason: str) -> None:
    src = tmp_path / "locked.xlsx"
    src.write_bytes(content)
    with pytest.raises(sensitive_io.UnreadableFile) as exc:
        rw.redact_file(src, tmp_path / "out.xlsx")
    assert exc.value.reason == reason == scanner.scan_paths([src]).files[0].reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked.xlsx"]


def test_redact_command_rewrites_a_workbook(tmp_path: Path) -> None:
    src = _workbook(tmp_path / "people.xlsx")
    run = CliRunner().invoke(app, ["redact", str(src), str(tmp_path / "out.xlsx"), "--operator", "redact"])
    assert run.exit_code == 0, run.output
    assert "6 values replaced in 6 rows" in run.output and "(Excel)" in run.output
    assert _values(tmp_path / "out.xlsx")["People"][1][1:3] == (None, None)
