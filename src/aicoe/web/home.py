"""The home dashboard: what the signed-in user can see at a glance and where they can go from here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from aicoe.audit import service as audit_service
from aicoe.auth.deps import CurrentPrincipal
from aicoe.core.deps import SessionDep
from aicoe.core.pagination import PageParams
from aicoe.org import service as org_service
from aicoe.web import pages

router = APIRouter()
RECENT_EVENTS = 8

AREA_BLURBS = {
    "/business-units": "The organisation's business units and how they nest.",
    "/people": "Everyone in the organisation, their unit and their CoE role.",
    "/people?roster=1": "The Center of Excellence team roster.",
    "/admin/users": "Accounts, roles and who may sign in.",
    "/audit": "The tamper-evident record of every change.",
    "/jobs": "Background work: scans, evaluations and reports.",
}


@router.get("/")
def dashboard(request: Request, session: SessionDep, principal: CurrentPrincipal) -> HTMLResponse:
    figures: dict[str, Any] | None = None
    if principal.has("person:read") and principal.has("business_unit:read"):
        figures = org_service.counts(session, principal)
    recent = None
    if principal.has("audit:read"):
        recent = audit_service.list_events(session, principal, PageParams(limit=RECENT_EVENTS)).items
    areas = [
        (item, AREA_BLURBS.get(item.href, ""))
        for item in pages.NAV
        if item.href != "/" and (item.permission is None or principal.has(item.permission))
    ]
    return pages.render(request, "home.html", {"figures": figures, "areas": areas, "recent": recent})
