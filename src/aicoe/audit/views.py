"""HTML pages for the audit trail: the filtered list with readable diffs, one event in full, verification.

Exports are plain links to the API's export route, which the session cookie authenticates like any GET.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from aicoe.audit import service
from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.core.time import isoformat
from aicoe.web import forms, pages

router = APIRouter()

PAGE_SIZE = 50
FILTER_FIELDS = ("entity_type", "entity_id", "actor", "action", "from", "to")


def _day(raw: str, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} is not a date",
                               errors=[FieldError(name, "Enter a date as YYYY-MM-DD.")]) from None


def filters_from(form: dict[str, str]) -> service.AuditFilters:
    """The form's dates are whole UTC days, both included: "to" becomes the start of the following day."""
    start, end = _day(form["from"], "from"), _day(form["to"], "to")
    return service.AuditFilters(
        entity_type=form["entity_type"], entity_id=form["entity_id"], actor=form["actor"],
        action=form["action"],
        since=datetime.combine(start, time(), tzinfo=UTC) if start else None,
        until=datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC) if end else None,
    )


def export_url(fmt: str, filters: service.AuditFilters) -> str:
    return forms.query_url(
        "/api/v1/audit-events/export", format=fmt, entity_type=filters.entity_type,
        entity_id=filters.entity_id, actor=filters.actor, action=filters.action,
        **{"from": isoformat(filters.since) if filters.since else None,
           "to": isoformat(filters.until) if filters.until else None},
    )


@router.get("/audit")
def audit_page(
    request: Request, session: SessionDep, principal: require("audit:read"),
    entity_type: Annotated[str, Query(max_length=64)] = "",
    entity_id: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=254)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(alias="from", max_length=10)] = "",
    until: Annotated[str, Query(alias="to", max_length=10)] = "",
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
    verify: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    form = {"entity_type": entity_type.strip(), "entity_id": entity_id.strip(), "actor": actor.strip(),
            "action": action.strip(), "from": since.strip(), "to": until.strip()}
    context = {"filters": form, "page": None, "diff_lines": service.diff_lines,
               "verification": service.verify(session, principal) if verify else None,
               "pager_url": forms.query_url("/audit", **form)}
    try:
        filters = filters_from(form)
    except ValidationFailed as error:
        return pages.form_error(request, "audit.html", error, form, context)
    page = service.list_events(session, principal, PageParams(limit=PAGE_SIZE, offset=offset), filters)
    return pages.render(request, "audit.html", {
        **context, "page": page, "filtered": filters.active,
        "export_csv": export_url("csv", filters), "export_jsonl": export_url("jsonl", filters),
    })


@router.get("/audit/{seq}")
def event_page(request: Request, session: SessionDep, principal: require("audit:read"),
               seq: int) -> HTMLResponse:
    event = service.get_event(session, principal, seq)
    return pages.render(request, "audit_event.html", {
        "event": event, "lines": service.diff_lines(event),
        "has_next": event.seq < service.last_seq(session, principal),
        "entity_url": forms.query_url("/audit", entity_type=event.entity_type, entity_id=event.entity_id),
    })
