"""Import of use cases from CSV or XLSX, and export of use cases, value entries and the pipeline.

Import
------
The first row names the columns (any order, case-insensitive); every later row is one new use case, created
through the intake service (``usecases.create_use_case``) so it gets a key, an audit event and every rule intake
applies. Row numbers are those a spreadsheet shows: the header is row 1, the first use case row 2.

The import is all or nothing. Every row is checked (cell formats, then references, then the intake service
itself inside a savepoint), every problem is reported with its row and column, and if there is any, nothing is
written. A dry run does the same and always rolls back.

Columns (``IMPORT_COLUMNS``): ``title``, ``business_unit`` (a unit code) and ``ai_type`` (``predictive_ml``,
``generative_ai``, ``agentic`` or their labels) are required. Optional: ``problem_statement``,
``opportunity_statement``, ``affected_users``, ``data_needed``, ``personal_data`` (yes/no, true/false, 1/0;
blank is no), ``sponsor_email`` and ``owner_email`` (people who exist), ``build_cost_estimate`` and
``run_cost_estimate`` (plain numbers such as 12500.50, not negative; blank is 0; run cost per year),
``target_date`` (YYYY-MM-DD or a date cell), ``delivery_mode`` (build, buy, partner), ``delivery_rationale``,
``objectives`` (objective titles separated by ``;``), and one column per expected benefit kind,
``benefit_revenue``, ``benefit_cost_saving``, ``benefit_hours_saved``, ``benefit_customer_satisfaction``,
``benefit_risk_reduction`` (money per year, imported at 50 % confidence). The columns an export adds (``key``,
``stage``, the scores and realised figures, ...) are accepted and ignored, so an export can be edited and
imported again as new use cases; any other column is an error.

Export (``portfolio/export.py``)
--------------------------------
One row per use case with the import columns plus the export-only ones, in CSV (streamed), XLSX or JSON.
Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``) is written to CSV
behind a ``'`` (as is text starting with ``'``), which the import removes again; XLSX cells are typed as text
instead.
"""

from __future__ import annotations

import csv
import io as _io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicoe.auth.principal import Actor
from aicoe.core.errors import DomainError, FieldError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from aicoe.models.org import BusinessUnit, User
from aicoe.models.strategy import Objective
from aicoe.portfolio import schemas, usecases
from aicoe.portfolio.constants import AI_TYPES, BENEFIT_KINDS, DELIVERY_MODES

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
IMPORT_CONFIDENCE = 50
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
GUARDED = (*FORMULA_START, "'")
BENEFIT_COLUMNS = {f"benefit_{kind}": kind for kind in BENEFIT_KINDS}


@dataclass(frozen=True)
class ImportColumn:
    name: str
    required: bool
    help: str


IMPORT_COLUMNS: tuple[ImportColumn, ...] = (
    ImportColumn("title", True, "Short name of the use case (up to 200 characters)."),
    ImportColumn("business_unit", True, "Code of an existing business unit, e.g. RETAIL."),
    ImportColumn("ai_type", True, "predictive_ml, generative_ai or agentic (or Predictive ML, ...)."),
    ImportColumn("problem_statement", False, "The problem to solve."),
    ImportColumn("opportunity_statement", False, "What solving it is worth."),
    ImportColumn("affected_users", False, "Who is affected: users, customers."),
    ImportColumn("data_needed", False, "The data the use case needs."),
    ImportColumn("personal_data", False, "yes or no (true/false, 1/0); blank means no."),
    ImportColumn("sponsor_email", False, "E-mail of an existing person."),
    ImportColumn("owner_email", False, "E-mail of an existing person."),
    ImportColumn("build_cost_estimate", False, "Plain number, e.g. 12500.50; blank means 0."),
    ImportColumn("run_cost_estimate", False, "Per year; plain number; blank means 0."),
    ImportColumn("target_date", False, "YYYY-MM-DD or a date cell."),
    ImportColumn("delivery_mode", False, "build, buy or partner."),
    ImportColumn("delivery_rationale", False, "Why build, buy or partner."),
    ImportColumn("objectives", False, "Titles of existing strategic objectives, separated by ';'."),
    *(ImportColumn(name, False, f"Expected {BENEFIT_KINDS[kind].lower()} per year (money); imported at "
                   f"{IMPORT_CONFIDENCE} % confidence.") for name, kind in BENEFIT_COLUMNS.items()),
)
IMPORT_NAMES = tuple(c.name for c in IMPORT_COLUMNS)
EXPORT_ONLY = ("key", "stage", "business_unit_name", "patterns", "expected_benefit_annual", "realised_benefit",
               "realised_cost", "score_total", "score_value", "score_feasibility", "score_spread", "scorer_count",
               "submitted_at", "production_at")
EXPORT_COLUMNS = ("key", "title", "business_unit", "business_unit_name", "stage", *IMPORT_NAMES[2:],
                  *EXPORT_ONLY[3:])
VALUE_COLUMNS = ("use_case", "period", "kind", "amount", "quantity", "note", "created_at")
PIPELINE_COLUMNS = ("rank", "key", "title", "business_unit", "stage", "ai_type", "score_total", "score_value",
                    "score_feasibility", "score_spread", "scorer_count", "what_if_total", "what_if_value")


# --- reports -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    valid: int = 0
    created: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "ok": self.ok, "rows": self.rows, "valid": self.valid,
                "created": self.created, "errors": [e.as_dict() for e in self.errors]}


class ImportRefused(ValidationFailed):
    """A real import with row errors: nothing was written; the problem carries the whole report."""

    def __init__(self, report: ImportReport) -> None:
        shown = "; ".join(f"row {e.row}, {e.column}: {e.message}" for e in report.errors[:5])
        more = f" (and {len(report.errors) - 5} more)" if len(report.errors) > 5 else ""
        super().__init__(f"nothing was imported: {len(report.errors)} problem(s) in the file: {shown}{more}",
                         errors=[FieldError(f"row {e.row}: {e.column}", e.message) for e in report.errors],
                         report=report.as_dict())
        self.report = report


# --- reading files -----------------------------------------------------------------------------------------------

def read_upload(stream: BinaryIO) -> bytes:
    """The uploaded bytes, refused beyond ``MAX_BYTES`` without reading further."""
    content = stream.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise PayloadTooLarge(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return content


def read_table(content: bytes, filename: str = "") -> list[list[Any]]:
    """The rows of a CSV (UTF-8, comma, semicolon or tab separated) or XLSX file (its first sheet)."""
    if content[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(content)
    if filename and not filename.lower().endswith((".csv", ".txt")):
        raise UnsupportedMediaType("import a .csv or .xlsx file")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the file is not UTF-8 text", errors=[FieldError(
            "file", f"Save the CSV as UTF-8 (undecodable byte at position {exc.start}).")]) from None
    header = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    try:
        return [[_unguard(cell) for cell in row] for row in csv.reader(_io.StringIO(text, newline=""),
                                                                        delimiter=delimiter)]
    except csv.Error as exc:
        raise ValidationFailed(f"the CSV cannot be read: {exc}", errors=[FieldError("file", str(exc))]) from None


def _unguard(cell: str) -> str:
    """Drop the ``'`` our CSV export puts before formula-like text (see ``_guard``)."""
    text = cell.strip()
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1] in GUARDED else cell


def _read_xlsx(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(_io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 -- openpyxl raises many kinds for a damaged file
        raise ValidationFailed("the XLSX file cannot be read", errors=[FieldError(
            "file", f"Not a readable XLSX workbook ({type(exc).__name__}).")]) from None
    try:
        sheet = book.worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    while rows and all(v is None or (isinstance(v, str) and not v.strip()) for v in rows[-1]):
        rows.pop()  # sheets often carry formatted but empty rows at the end
    return rows


# --- cells -------------------------------------------------------------------------------------------------------

class CellError(ValueError):
    pass


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _number(value: Any) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    if isinstance(value, bool):
        raise CellError("Enter a number.")
    if isinstance(value, int | float):
        number = float(value)
    else:
        raw = str(value).strip().replace(" ", "").replace("_", "")
        if not re.fullmatch(r"-?\d+(\.\d+)?", raw):
            raise CellError(f"{str(value).strip()!r} is not a plain number; write it like 12500.50.")
        number = float(raw)
    if number < 0:
        raise CellError("Cannot be negative.")
    if number > 1e12:
        raise CellError("Too large.")
    return number


_TRUE, _FALSE = {"yes", "y", "true", "1", "x"}, {"no", "n", "false", "0", ""}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(f"{_text(value)!r} is not yes or no.")


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10]) if len(text) in (10, 19) else date.fromisoformat(text)
    except ValueError:
        raise CellError(f"{text!r} is not a date; write it as YYYY-MM-DD.") from None


def _choice(value: Any, choices: dict[str, str]) -> str | None:
    text = _text(value)
    if not text:
        return None
    by_name = {k.lower(): k for k in choices} | {v.lower(): k for k, v in choices.items()}
    if text.lower() in by_name:
        return by_name[text.lower()]
    raise CellError(f"{text!r} is not one of: {', '.join(choices)}.")


# --- parsing rows --------------------------------------------------------------------------------------------------

@dataclass
class ParsedRow:
    row: int
    values: dict[str, Any]


def _header(table: Sequence[Sequence[Any]]) -> tuple[list[str], list[RowError]]:
    errors: list[RowError] = []
    if not table or not any(_text(v) for v in table[0]):
        return [], [RowError(1, "header", "The first row must name the columns (title, business_unit, ...).")]
    names = [_text(v).lower().replace(" ", "_") for v in table[0]]
    seen: set[str] = set()
    for name in names:
        if not name:
            continue
        if name in seen:
            errors.append(RowError(1, name, "This column appears twice."))
        elif name not in IMPORT_NAMES and name not in EXPORT_ONLY:
            errors.append(RowError(1, name, f"Unknown column; the columns are: {', '.join(IMPORT_NAMES)}."))
        seen.add(name)
    for column in IMPORT_COLUMNS:
        if column.required and column.name not in seen:
            errors.append(RowError(1, column.name, "This required column is missing."))
    return names, errors


_CELLS: dict[str, Callable[[Any], Any]] = {
    "personal_data": _bool, "build_cost_estimate": _number, "run_cost_estimate": _number, "target_date": _date,
    "ai_type": lambda v: _choice(v, AI_TYPES), "delivery_mode": lambda v: _choice(v, DELIVERY_MODES),
    **{name: _number for name in BENEFIT_COLUMNS},
}


def parse_table(table: Sequence[Sequence[Any]]) -> tuple[list[ParsedRow], list[RowError]]:
    """Cell formats and required values, row by row; references to the database are checked later."""
    names, errors = _header(table)
    if errors:
        return [], errors
    rows: list[ParsedRow] = []
    data = table[1:]
    if len(data) > MAX_ROWS:
        return [], [RowError(MAX_ROWS + 2, "file", f"At most {MAX_ROWS} use cases per file.")]
    for offset, cells in enumerate(data):
        number = offset + 2
        if not any(_text(v) for v in cells):
            continue  # blank lines are not use cases
        values: dict[str, Any] = {}
        if len(cells) > len(names) and any(_text(v) for v in cells[len(names):]):
            errors.append(RowError(number, "row", "The row has more cells than the header has columns."))
        for name, cell in zip(names, cells, strict=False):
            if name not in IMPORT_NAMES:
                continue
            try:
                values[name] = _CELLS.get(name, _text)(cell)
            except CellError as exc:
                errors.append(RowError(number, name, str(exc)))
        for column in IMPORT_COLUMNS:
            if column.required and not values.get(column.name) and not any(
                    e.row == number and e.column == column.name for e in errors):
                errors.append(RowError(number, column.name, "A value is required."))
        rows.append(ParsedRow(number, values))
    if not rows and not errors:
        errors.append(RowError(2, "file", "The file holds no use cases below the header."))
    return rows, errors


# --- references and creation ---------------------------------------------------------------------------------------

FIELD_COLUMNS = {"business_unit_id": "business_unit", "sponsor_id": "sponsor_email", "owner_id": "owner_email",
                 "objective_ids": "objectives"}


def _lookup(session: Session, rows: list[ParsedRow]) -> dict[str, dict[str, int]]:
    """Units by code, people by e-mail and objectives by title (all lower-cased), in three queries."""
    def wanted(*columns: str, split: bool = False) -> list[str]:
        out: set[str] = set()
        for r in rows:
            for c in columns:
                text = r.values.get(c) or ""
                out |= {p.strip().lower() for p in (text.split(";") if split else [text]) if p.strip()}
        return sorted(out)

    units, emails, titles = wanted("business_unit"), wanted("sponsor_email", "owner_email"), wanted(
        "objectives", split=True)
    return {
        "units": {c.lower(): i for i, c in session.execute(
            select(BusinessUnit.id, BusinessUnit.code).where(func.lower(BusinessUnit.code).in_(units)))},
        "people": {e.lower(): i for i, e in session.execute(
            select(User.id, User.email).where(func.lower(User.email).in_(emails)))},
        "objectives": {t.lower(): i for i, t in session.execute(
            select(Objective.id, Objective.title).where(func.lower(Objective.title).in_(titles)))},
    }


def _to_create(row: ParsedRow, refs: dict[str, dict[str, int]]) -> tuple[dict[str, Any], list[RowError]]:
    v, errors = row.values, []

    def ref(column: str, table: str, what: str) -> int | None:
        text = (v.get(column) or "").strip()
        if not text:
            return None
        found = refs[table].get(text.lower())
        if found is None:
            errors.append(RowError(row.row, column, f"No {what} {text!r}."))
        return found

    objective_ids = []
    for title in (p.strip() for p in (v.get("objectives") or "").split(";")):
        if title:
            found = refs["objectives"].get(title.lower())
            if found is None:
                errors.append(RowError(row.row, "objectives", f"No strategic objective titled {title!r}."))
            else:
                objective_ids.append(found)
    data = {
        "title": v.get("title", ""), "problem_statement": v.get("problem_statement", ""),
        "opportunity_statement": v.get("opportunity_statement", ""),
        "business_unit_id": ref("business_unit", "units", "business unit with code"),
        "sponsor_id": ref("sponsor_email", "people", "person with e-mail"),
        "owner_id": ref("owner_email", "people", "person with e-mail"),
        "affected_users": v.get("affected_users", ""), "data_needed": v.get("data_needed", ""),
        "personal_data": v.get("personal_data", False), "ai_type": v.get("ai_type"),
        "build_cost_estimate": v.get("build_cost_estimate", 0.0), "run_cost_estimate": v.get("run_cost_estimate", 0.0),
        "target_date": v.get("target_date"), "delivery_mode": v.get("delivery_mode"),
        "delivery_rationale": v.get("delivery_rationale", ""), "objective_ids": sorted(set(objective_ids)),
        "benefits": [{"kind": kind, "amount": v[name], "confidence": IMPORT_CONFIDENCE}
                     for name, kind in BENEFIT_COLUMNS.items() if v.get(name)],
    }
    return data, errors


def _column_of(field_name: str, data: dict[str, Any]) -> str:
    parts = field_name.split(".")
    if parts[0] == "benefits" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(data["benefits"]):
        return f"benefit_{data['benefits'][int(parts[1])]['kind']}"
    return FIELD_COLUMNS.get(parts[0], parts[0])


def import_table(session: Session, principal: Actor, table: Sequence[Sequence[Any]], *,
                 dry_run: bool) -> ImportReport:
    """Check every row and create them all, or nothing (see the module docstring). A real import with errors
    raises ``ImportRefused`` after rolling back what it tried."""
    report = ImportReport(dry_run=dry_run)
    rows, errors = parse_table(table)
    report.rows = len(rows)
    refs = _lookup(session, rows)
    outer = session.begin_nested()
    for row in rows:
        data, row_errors = _to_create(row, refs)
        if not row_errors and not any(e.row == row.row for e in errors):
            try:
                create = schemas.UseCaseCreate.model_validate(data)
                with session.begin_nested():
                    report.created.append(usecases.create_use_case(session, principal, create).key)
                report.valid += 1
            except ValidationError as exc:
                row_errors = [RowError(row.row, _column_of(".".join(map(str, e["loc"])), data), e["msg"])
                              for e in exc.errors()]
            except DomainError as exc:
                row_errors = [RowError(row.row, _column_of(f.field, data), f.message) for f in exc.errors] or [
                    RowError(row.row, "business_unit" if exc.status == 403 else "row", exc.detail)]
        errors.extend(row_errors)
    report.errors = sorted(errors, key=lambda e: (e.row, e.column))
    if dry_run or report.errors:
        outer.rollback()
        report.created = []
    else:
        outer.commit()
    if report.errors and not dry_run:
        raise ImportRefused(report)
    return report


def import_file(session: Session, principal: Actor, content: bytes, *, filename: str = "",
                dry_run: bool) -> ImportReport:
    return import_table(session, principal, read_table(content, filename), dry_run=dry_run)
