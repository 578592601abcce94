"""Reading the audit ledger: filtered, paginated queries and streamed exports.

The ledger is append-only: this module only reads, and no route anywhere edits or deletes an event. Reading
needs ``audit:read`` and exporting ``audit:export``, both CoE-wide permissions (a business-unit grant of them
is ignored), so no query here is narrowed to units.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Principal
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.filters import like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import isoformat
from aicoe.models.audit import AuditEvent

ExportFormat = Literal["csv", "jsonl"]
EXPORT_COLUMNS = (
    "seq", "ts", "actor_type", "actor_id", "actor_label", "action", "entity_type", "entity_id", "diff",
    "request_id", "prev_hash", "hash",
)
EXPORT_BATCH = 5000
SORT_COLUMNS = {"seq": AuditEvent.seq}


@dataclass(frozen=True)
class AuditFilters:
    """``actor`` matches an actor id exactly or any part of the actor's label; ``since`` is inclusive and
    ``until`` exclusive, so consecutive ranges never count an event twice."""

    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for f in fields(self):  # blank form fields mean "no filter"
            value = getattr(self, f.name)
            if isinstance(value, str):
                object.__setattr__(self, f.name, value.strip() or None)
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValidationFailed("the end of the time range must come after its start",
                                   errors=[FieldError("to", "Must be later than “from”.")])

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))



def _conditions(filters: AuditFilters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if filters.entity_type:
        out.append(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id:
        out.append(AuditEvent.entity_id == filters.entity_id)
    if filters.action:
        out.append(AuditEvent.action == filters.action)
    if filters.actor:
        like = like_pattern(filters.actor)
        out.append(or_(AuditEvent.actor_id == filters.actor,
                       func.lower(AuditEvent.actor_label).like(like, escape="\\")))
    if filters.since is not None:
        out.append(AuditEvent.ts >= filters.since)
    if filters.until is not None:
        out.append(AuditEvent.ts < filters.until)
    return out


def events_query(principal: Principal, filters: AuditFilters) -> Select[tuple[AuditEvent]]:
    principal.scope("audit:read")
    return select(AuditEvent).where(*_conditions(filters))


def list_events(session: Session, principal: Principal, params: PageParams,
                filters: AuditFilters | None = None) -> Page[AuditEvent]:
    """Newest first unless ``sort`` says otherwise (``seq`` or ``-seq``)."""
    stmt = apply_sort(events_query(principal, filters or AuditFilters()), params.sort, SORT_COLUMNS,
                      [AuditEvent.seq.desc()])
    return paginate(session, stmt, params)


def get_event(session: Session, principal: Principal, seq: int) -> AuditEvent:
    event = session.scalar(events_query(principal, AuditFilters()).where(AuditEvent.seq == seq))
    if event is None:
        raise NotFound(f"no audit event {seq}")
    return event


def last_seq(session: Session, principal: Principal) -> int:
    principal.scope("audit:read")
    return session.scalar(select(func.max(AuditEvent.seq))) or 0


def verify(session: Session, principal: Principal) -> ledger.VerifyResult:
    principal.scope("audit:read")
    return ledger.verify(session)


# --- export --------------------------------------------------------------------------------------------------

def _export_rows(session: Session, filters: AuditFilters, batch: int,
                 progress: Callable[[int], None] | None) -> Iterator[list[Any]]:
    """Batches in sequence order by keyset (``seq > last``), up to the newest event when the export began.

    Each batch is one short query, so memory stays flat and no cursor is held open between batches.
    """
    columns = [getattr(AuditEvent, c) for c in EXPORT_COLUMNS]
    conditions = _conditions(filters)
    last_seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    after, done = 0, 0
    while after < last_seq:
        rows = session.execute(
            select(*columns).where(*conditions, AuditEvent.seq > after, AuditEvent.seq <= last_seq)
            .order_by(AuditEvent.seq).limit(batch)
        ).all()
        if rows:
            yield rows
            done += len(rows)
            if progress is not None:
                progress(done)
        if len(rows) < batch:
            return
        after = rows[-1][0]


def export(session: Session, principal: Principal, filters: AuditFilters, fmt: ExportFormat, *,
           batch: int = EXPORT_BATCH) -> Iterator[str]:
    """``export_text`` for a caller holding ``audit:export`` (checked now, not at the first chunk)."""
    principal.scope("audit:export")
    return export_text(session, filters, fmt, batch=batch)


def export_text(session: Session, filters: AuditFilters, fmt: ExportFormat, *, batch: int = EXPORT_BATCH,
                progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The matching events in sequence order as CSV (with a header) or JSON lines, one text chunk per batch.

    Values are exported exactly as stored (``diff`` as its canonical JSON text in CSV, as an object in JSON
    lines; ``ts`` in the canonical ``...Z`` form), so each event's hash can be recomputed from the export.
    ``progress`` gets the running count of exported events. For the CLI, which works on the database directly.
    """
    if fmt not in ("csv", "jsonl"):
        raise ValidationFailed(f"unknown export format {fmt!r}",
                               errors=[FieldError("format", "Choose csv or jsonl.")])
    rows = _export_rows(session, filters, batch, progress)
    return _csv(rows) if fmt == "csv" else _jsonl(rows)


def _csv(batches: Iterator[list[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows((r[0], isoformat(r[1]), *r[2:]) for r in rows)
        yield buffer.getvalue()


def _jsonl(batches: Iterator[list[Any]]) -> Iterator[str]:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for rows in batches:
        yield "".join(dumps(as_record(r)) + "\n" for r in rows)


def as_record(row: Any) -> dict[str, Any]:
    """One exported event: the stored columns, ``ts`` as canonical text and ``diff`` parsed."""
    record = dict(zip(EXPORT_COLUMNS, row, strict=True))
    record["ts"] = isoformat(record["ts"])
    try:
        record["diff"] = json.loads(record["diff"])
    except ValueError:  # written behind the ledger's back; exported as found (verify reports it)
        pass
    return record


# --- presentation ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DiffLine:
    field: str
    kind: Literal["set", "changed", "cleared"]
    old: str
    new: str


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_lines(event: AuditEvent) -> list[DiffLine]:
    """The ``{field: [old, new]}`` diff as lines a person can read; other shapes are shown per key."""
    try:
        diff = json.loads(event.diff)
    except ValueError:
        return [DiffLine("diff", "set", "", event.diff)]
    if not isinstance(diff, dict):
        return [DiffLine("diff", "set", "", _show(diff))]
    out = []
    for key, change in sorted(diff.items()):
        if isinstance(change, list) and len(change) == 2:
            old, new = change
            kind: Literal["set", "changed", "cleared"] = (
                "set" if old is None else "cleared" if new is None else "changed")
            out.append(DiffLine(key, kind, "" if old is None else _show(old),
                                "" if new is None else _show(new)))
        else:
            out.append(DiffLine(key, "set", "", _show(change)))
    return out
