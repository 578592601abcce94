"""The routing table: every area's JSON router under /api/v1 and its HTML views. One place to add an area."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from aicoe.audit import api as audit_api
from aicoe.audit import views as audit_views
from aicoe.auth import api as auth_api
from aicoe.auth import views as auth_views
from aicoe.compliance import (
    api_assessments,
    api_catalogs,
    api_classification,
    api_controls,
    api_evidence,
    views_assessments,
    views_catalogs,
    views_classification,
    views_controls,
    views_evidence,
)
from aicoe.evaluation import api as evaluation_api
from aicoe.evaluation import views as evaluation_views
from aicoe.files import api as files_api
from aicoe.gateway import api as gateway_api
from aicoe.gateway import views as gateway_views
from aicoe.inventory import api_assets, api_lineage, api_mlflow, api_systems, views_assets, views_lineage, views_systems
from aicoe.jobs import api as jobs_api
from aicoe.jobs import views as jobs_views
from aicoe.org import api as org_api
from aicoe.org import views as org_views
from aicoe.policy import api as policy_api
from aicoe.policy import views as policy_views
from aicoe.portfolio import api as portfolio_api
from aicoe.portfolio import lifecycle_api, lifecycle_views, value_api, value_views
from aicoe.portfolio import views as portfolio_views
from aicoe.reviews import api as reviews_api
from aicoe.reviews import views as reviews_views
from aicoe.risk import api as risk_api
from aicoe.risk import views as risk_views
from aicoe.sensitive import api as sensitive_api
from aicoe.sensitive import views as sensitive_views
from aicoe.strategy import api as strategy_api
from aicoe.strategy import views as strategy_views
from aicoe.web import health, home

API_PREFIX = "/api/v1"
# value_api/value_views come before portfolio_api/views: their fixed paths (/use-cases/import, /use-cases/export)
# must match before the use-case routes' /use-cases/{key} does.
API_ROUTERS = [auth_api.router, org_api.router, audit_api.router, jobs_api.router, files_api.router,
               strategy_api.router, value_api.router, portfolio_api.router, lifecycle_api.router,
               api_systems.router, api_assets.router, api_lineage.router, api_mlflow.router,
               api_catalogs.router, api_classification.router, api_assessments.router, api_controls.router,
               api_evidence.router, risk_api.router, policy_api.router, reviews_api.router, sensitive_api.router,
               evaluation_api.router, gateway_api.router]
VIEW_ROUTERS = [home.router, auth_views.router, org_views.router, audit_views.router, jobs_views.router,
                strategy_views.router, value_views.router, portfolio_views.router, lifecycle_views.router,
                views_systems.router, views_assets.router, views_lineage.router, views_catalogs.router,
                views_classification.router, views_assessments.router, views_controls.router, views_evidence.router,
                risk_views.router, policy_views.router, reviews_views.router, sensitive_views.router,
                evaluation_views.router, gateway_views.router]


def mount(app: FastAPI) -> None:
    api = APIRouter(prefix=API_PREFIX)
    for router in API_ROUTERS:
        api.include_router(router)
    app.include_router(api)
    app.include_router(health.router)
    for router in VIEW_ROUTERS:
        app.include_router(router, include_in_schema=False)
