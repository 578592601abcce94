"""JSON routes for the audit ledger: list, filter, read one event, export and verify the chain.

There is deliberately no route that edits or deletes an event: the ledger is append-only, and appends happen
only inside the services that make the audited change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from aicoe.audit import service
from aicoe.audit.schemas import AuditEventOut, VerifyOut
from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.core.deps import SessionDep
from aicoe.core.time import utcnow
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["audit"])

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


def audit_filters(
    entity_type: Annotated[str | None, Query(max_length=64, description="exact, e.g. business_unit")] = None,
    entity_id: Annotated[str | None, Query(max_length=64, description="exact entity id")] = None,
    actor: Annotated[str | None, Query(max_length=254, description="actor id, or part of its label")] = None,
    action: Annotated[str | None, Query(max_length=64, description="exact, e.g. update")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="before (ISO 8601; UTC if naive)")] = None,
) -> service.AuditFilters:
    return service.AuditFilters(entity_type=entity_type, entity_id=entity_id, actor=actor, action=action,
                                since=since, until=until)


FilterQuery = Annotated[service.AuditFilters, Depends(audit_filters)]


@router.get("/audit-events", response_model=PageOut[AuditEventOut])
def list_events(session: SessionDep, principal: require("audit:read"), page: PageQuery,
                filters: FilterQuery) -> dict:
    """Newest first by default; ``sort=seq`` for oldest first."""
    return page_out(service.list_events(session, principal, page, filters), AuditEventOut)


@router.get("/audit-events/export")
def export_events(request: Request, principal: require("audit:export"), filters: FilterQuery,
                  format: Annotated[Literal["csv", "jsonl"], Query(description="csv or jsonl")] = "csv",
                  ) -> StreamingResponse:
    """The matching events, oldest first, streamed in batches (the export never sits in memory whole)."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    chunks = _stream(factory, principal, filters, format)
    next(chunks)  # run the checks now, so a refusal is an error response rather than a broken download
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="audit-events-{stamp}.{format}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


def _stream(factory: sessionmaker[Session], principal: Principal, filters: service.AuditFilters,
            fmt: Literal["csv", "jsonl"]) -> Iterator[str]:
    """Reads on a session of its own: the response body is produced after the request's session is gone."""
    with factory() as session:
        body = service.export(session, principal, filters, fmt)
        yield ""
        yield from body


@router.get("/audit-events/verify", response_model=VerifyOut)
def verify_chain(session: SessionDep, principal: require("audit:read")) -> object:
    """Walk the whole chain and report the first broken link (``ok`` false, ``broken_seq`` and a reason)."""
    return service.verify(session, principal)


@router.get("/audit-events/{seq}", response_model=AuditEventOut)
def get_event(session: SessionDep, principal: require("audit:read"), seq: int) -> object:
    return service.get_event(session, principal, seq)
