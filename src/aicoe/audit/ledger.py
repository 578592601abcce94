"""Append to and verify the hash-chained audit ledger.

Each event's hash is SHA-256 over a canonical JSON array of its fields and the previous event's hash. Appends
take the chain head with ``UPDATE audit_head ... RETURNING``: that statement holds the row lock (PostgreSQL) or
the database write lock (SQLite) until commit, so concurrent writers queue and the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, inspect, select, update
from sqlalchemy.orm import Session

from aicoe.core.logging import request_id_var
from aicoe.core.time import isoformat, utcnow
from aicoe.models.audit import GENESIS_HASH, AuditEvent, AuditHead

REDACTED = "[redacted]"


@dataclass(frozen=True)
class AuditActor:
    type: str  # "user", "token" or "system"
    id: str
    label: str


SYSTEM = AuditActor("system", "system", "system")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def event_hash(
    seq: int, ts: str, actor_type: str, actor_id: str, actor_label: str, action: str,
    entity_type: str, entity_id: str, diff: str, request_id: str, prev_hash: str,
) -> str:
    material = json.dumps(
        [seq, ts, actor_type, actor_id, actor_label, action, entity_type, entity_id, diff, request_id, prev_hash],
        separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def append(
    session: Session, actor: AuditActor, action: str, entity_type: str, entity_id: object,
    diff: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Record one event in the caller's transaction (flushes; the caller commits)."""
    session.flush()
    row = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one_or_none()
    if row is None:  # a database created without the migration's seed row
        session.add(AuditHead(id=1, seq=1, hash=GENESIS_HASH))
        session.flush()
        seq, prev = 1, GENESIS_HASH
    else:
        seq, prev = row
    ts = utcnow()
    fields = dict(
        seq=seq, ts=isoformat(ts), actor_type=actor.type, actor_id=actor.id, actor_label=actor.label,
        action=action, entity_type=entity_type, entity_id=str(entity_id), diff=canonical_json(diff or {}),
        request_id=request_id_var.get() or "", prev_hash=prev,
    )
    digest = event_hash(**fields)
    event = AuditEvent(**{**fields, "ts": ts}, hash=digest)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    session.flush()
    return event


# --- diffs ---------------------------------------------------------------------------------------------------

def _redactions(obj: object) -> frozenset[str]:
    return getattr(type(obj), "__audit_redact__", frozenset())


def _columns(obj: object) -> Iterable[str]:
    return [c.key for c in inspect(type(obj)).column_attrs]


def _value(key: str, value: Any, redact: frozenset[str]) -> Any:
    return REDACTED if key in redact and value is not None else value


def created(obj: object) -> dict[str, list[Any]]:
    redact = _redactions(obj)
    return {k: [None, _value(k, getattr(obj, k), redact)] for k in _columns(obj)
            if getattr(obj, k) is not None and k not in {"created_at", "updated_at"}}


def deleted(obj: object) -> dict[str, list[Any]]:
    redact = _redactions(obj)
    return {k: [_value(k, getattr(obj, k), redact), None] for k in _columns(obj)
            if getattr(obj, k) is not None and k not in {"created_at", "updated_at"}}


def changed(obj: object) -> dict[str, list[Any]]:
    """Pending changes of a loaded object, read from SQLAlchemy's attribute history (call before flush)."""
    state = inspect(obj)
    redact = _redactions(obj)
    out: dict[str, list[Any]] = {}
    for key in _columns(obj):
        if key == "updated_at":
            continue
        hist = state.attrs[key].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                out[key] = [_value(key, old, redact), _value(key, new, redact)]
    return out


# --- verification ----------------------------------------------------------------------------------------------

@dataclass
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int
    broken_seq: int | None = None
    reason: str = ""
    head_hash: str = field(default="", compare=False)  # record it outside the database to detect rewrites


_HASHED_COLUMNS = (
    "actor_type", "actor_id", "actor_label", "action", "entity_type", "entity_id", "diff", "request_id",
    "prev_hash", "hash",
)
# The canonical ``ts`` text computed by the database, so the walk never parses a datetime per row.
_PG_TS = """to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def verify(session: Session, *, batch_size: int = 2000,
           progress: Callable[[int], None] | None = None) -> VerifyResult:
    """Walk the whole chain in sequence order and report the first broken link.

    The walk reads on a connection of its own, in one snapshot (REPEATABLE READ on PostgreSQL; a SQLite read
    transaction is one already), so the head and the events agree even while others append; it sees committed
    events only. Rows come from a raw DBAPI cursor in batches (server-side on PostgreSQL): memory stays flat
    whatever the chain's length; each row costs one string build and one SHA-256, and no datetime parsing.
    ``progress`` is called with the running count after each batch.
    """
    bind = session.get_bind()
    if isinstance(bind, Connection):  # a session bound to a caller's connection: walk inside its transaction
        return _walk(bind, batch_size, progress)
    if bind.dialect.name == "postgresql":
        bind = bind.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with bind.connect() as conn, conn.begin():
        return _walk(conn, batch_size, progress)


def _walk(conn: Connection, batch_size: int, progress: Callable[[int], None] | None) -> VerifyResult:
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    head_seq, head_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
    postgres = conn.dialect.name == "postgresql"
    sql = (f"SELECT seq, {_PG_TS if postgres else 'ts'}, {', '.join(_HASHED_COLUMNS)} "
           "FROM audit_events ORDER BY seq")
    dbapi = conn.connection.driver_connection
    cursor = dbapi.cursor(name="aicoe_audit_verify") if postgres else dbapi.cursor()
    expected, prev = 1, GENESIS_HASH
    sha, enc = hashlib.sha256, json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch_size):
            for seq, ts, a_type, a_id, a_label, action, e_type, e_id, diff, req, prev_hash, digest in rows:
                if seq != expected:
                    return _broken(expected - 1, head_seq, expected, f"event {expected} is missing")
                if prev_hash != prev:
                    return _broken(expected - 1, head_seq, seq, "previous-hash link does not match")
                try:  # the same text as event_hash's json.dumps of the field list, built without the encoder
                    if not postgres:
                        ts = f"{ts[:10]}T{ts[11:]}Z" if type(ts) is str and len(ts) == 26 and ts[10] == " " \
                            else _sqlite_ts(ts)
                    material = (
                        f"[{seq},{enc(ts)},{enc(a_type)},{enc(a_id)},"
                        f"{enc(a_label)},{enc(action)},{enc(e_type)},{enc(e_id)},{enc(diff)},{enc(req)},"
                        f"{enc(prev_hash)}]"
                    )
                    intact = sha(material.encode()).hexdigest() == digest
                except (TypeError, ValueError):  # a value of the wrong type written behind the ledger's back
                    intact = False
                if not intact:
                    return _broken(expected - 1, head_seq, seq, "content does not match its hash")
                if seq == head_seq and digest != head_hash:
                    return _broken(expected, head_seq, seq,
                                   "the recorded head does not match this event's hash")
                prev, expected = digest, expected + 1
            if progress is not None:
                progress(expected - 1)
    finally:
        cursor.close()
    checked = expected - 1
    if checked < head_seq:
        return _broken(checked, head_seq, checked + 1,
                       f"chain ends at event {checked} but the recorded head is event {head_seq}")
    if checked > head_seq:
        return _broken(checked, head_seq, head_seq + 1,
                       f"events after the recorded head (event {head_seq}) were added outside the ledger")
    return VerifyResult(True, checked, head_seq, head_hash=head_hash)


def _broken(checked: int, head_seq: int, seq: int, reason: str) -> VerifyResult:
    return VerifyResult(False, checked, head_seq, seq, reason)


def _sqlite_ts(raw: object) -> str:
    """Canonical text of a ``ts`` not in the ``YYYY-MM-DD HH:MM:SS.ffffff`` form SQLite is given (the walk
    rearranges that form inline, without parsing); raises on a value that is no timestamp at all."""
    return isoformat(datetime.fromisoformat(raw))  # type: ignore[arg-type]
