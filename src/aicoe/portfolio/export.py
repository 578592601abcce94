"""Export of use cases, value entries and the pipeline as CSV (streamed a row at a time), XLSX or JSON.

The columns are defined with the import's in ``portfolio/io.py`` (an export imports again as new use cases).
Text a spreadsheet would run as a formula is guarded in CSV with a leading ``'`` that the import drops again;
XLSX cells are typed as text instead.
"""

from __future__ import annotations

import csv
import io as _io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session, selectinload

from aicoe.core.time import isoformat
from aicoe.models.portfolio import UseCase, ValueEntry
from aicoe.portfolio.io import BENEFIT_COLUMNS, GUARDED


def _guard(value: Any) -> Any:
    """Put ``'`` before text a spreadsheet would run as a formula, and before text that starts with ``'``
    itself, so that the import (which drops exactly that one quote) reads back what was exported."""
    return "'" + value if isinstance(value, str) and value.startswith(GUARDED) else value


def _fmt(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def use_case_rows(session: Session, stmt: Select[tuple[UseCase]], *, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """``stmt`` (already filtered, scoped and ordered) as export rows, loaded ``batch`` use cases at a time."""
    stmt = stmt.options(selectinload(UseCase.business_unit), selectinload(UseCase.sponsor),
                        selectinload(UseCase.owner), selectinload(UseCase.benefits),
                        selectinload(UseCase.objectives), selectinload(UseCase.patterns))
    for uc in session.scalars(stmt.execution_options(yield_per=batch)):
        benefits = {name: 0.0 for name in BENEFIT_COLUMNS}
        for b in uc.benefits:
            benefits[f"benefit_{b.kind}"] = benefits.get(f"benefit_{b.kind}", 0.0) + b.amount
        yield {
            "key": uc.key, "title": uc.title, "business_unit": uc.business_unit.code,
            "business_unit_name": uc.business_unit.name, "stage": uc.stage, "ai_type": uc.ai_type,
            "problem_statement": uc.problem_statement, "opportunity_statement": uc.opportunity_statement,
            "affected_users": uc.affected_users, "data_needed": uc.data_needed,
            "personal_data": uc.personal_data,
            "sponsor_email": uc.sponsor.email if uc.sponsor else "",
            "owner_email": uc.owner.email if uc.owner else "",
            "build_cost_estimate": uc.build_cost_estimate, "run_cost_estimate": uc.run_cost_estimate,
            "target_date": uc.target_date, "delivery_mode": uc.delivery_mode or "",
            "delivery_rationale": uc.delivery_rationale,
            "objectives": "; ".join(o.title for o in uc.objectives), **benefits,
            "patterns": "; ".join(p.name for p in uc.patterns),
            "expected_benefit_annual": uc.expected_benefit_annual, "realised_benefit": uc.realised_benefit,
            "realised_cost": uc.realised_cost, "score_total": uc.score_total, "score_value": uc.score_value,
            "score_feasibility": uc.score_feasibility, "score_spread": uc.score_spread,
            "scorer_count": uc.scorer_count, "submitted_at": uc.submitted_at, "production_at": uc.production_at,
        }


def value_rows(session: Session, stmt: Select[tuple[ValueEntry, str]], *,
               batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Value entries joined to their use case's key, ``batch`` at a time."""
    for entry, key in session.execute(stmt.execution_options(yield_per=batch)):
        yield {"use_case": key, "period": entry.period, "kind": entry.kind, "amount": entry.amount,
               "quantity": entry.quantity, "note": entry.note, "created_at": entry.created_at}


def csv_lines(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """CSV text, a line at a time (for streaming), header first."""
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(columns)
    yield flush()
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _guard(_fmt(row.get(c))) for c in columns])
        yield flush()


def json_chunks(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """A JSON array of objects, streamed an element at a time."""
    yield "["
    first = True
    for row in rows:
        item = {c: (_fmt(row.get(c)) if not isinstance(row.get(c), bool) else row.get(c)) for c in columns}
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]\n"


def xlsx_bytes(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, sheet: str) -> bytes:
    """An XLSX workbook with one sheet; text cells are typed as text, so nothing in them runs as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append(list(columns))
    for row in rows:
        cells = []
        for c in columns:
            value = _fmt(row.get(c))
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            cells.append(cell)
        ws.append(cells)
    out = _io.BytesIO()
    book.save(out)
    return out.getvalue()
