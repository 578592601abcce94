"""The routing table: every area's JSON router under /api/v1 and its HTML views. One place to add an area."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from aicoe.audit import api as audit_api
from aicoe.audit import views as audit_views
from aicoe.auth import api as auth_api
from aicoe.auth import views as auth_views
from aicoe.files import api as files_api
from aicoe.jobs import api as jobs_api
from aicoe.jobs import views as jobs_views
from aicoe.org import api as org_api
from aicoe.org import views as org_views
from aicoe.web import health, home

API_PREFIX = "/api/v1"
API_ROUTERS = [auth_api.router, org_api.router, audit_api.router, jobs_api.router, files_api.router]
VIEW_ROUTERS = [home.router, auth_views.router, org_views.router, audit_views.router, jobs_views.router]


def mount(app: FastAPI) -> None:
    api = APIRouter(prefix=API_PREFIX)
    for router in API_ROUTERS:
        api.include_router(router)
    app.include_router(api)
    app.include_router(health.router)
    for router in VIEW_ROUTERS:
        app.include_router(router, include_in_schema=False)
