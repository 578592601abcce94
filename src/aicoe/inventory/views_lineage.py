"""HTML pages for lineage: a system's lineage drawing (with the same graph as tables), the impact pages of a
dataset, a vendor and a model, and the system's AI bill of materials as a download.

Everything goes through aicoe.inventory.lineage and .bom, which scope every question to the caller's units.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.inventory import bom, graph_svg, lineage
from aicoe.inventory.api_lineage import bom_response
from aicoe.inventory.constants import ENVIRONMENTS, LIFECYCLE_STATUSES, MODEL_KINDS
from aicoe.models.org import BusinessUnit
from aicoe.web import pages

router = APIRouter()

Status = Annotated[str | None, Query(max_length=40)]
SUBJECT_LINKS = {"dataset": "/datasets/{}", "vendor": "/vendors/{}", "model": "/models/{}"}
SUBJECT_LABELS = {"dataset": "Dataset", "vendor": "Vendor", "model": "Model"}


@router.get("/ai-systems/{system_id}/lineage")
def lineage_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                 system_id: int) -> HTMLResponse:
    graph = lineage.system_lineage(session, principal, system_id)
    system = lineage.get_system(session, principal, system_id)
    names = {n.id: n for n in graph.nodes}
    return pages.render(request, "lineage.html", {
        "system": system, "graph": graph, "names": names, "href": graph_svg.href,
        "kind_labels": graph_svg.KIND_LABEL,
        "svg": graph_svg.lineage_svg(graph, title=f"Lineage of {system.name}"),
    })


@router.get("/ai-systems/{system_id}/bom")
def bom_download(session: SessionDep, principal: require("inventory:read"), system_id: int) -> Response:
    """The system's CycloneDX ML-BOM, served as a file to save."""
    system = lineage.get_system(session, principal, system_id)
    return bom_response(bom.to_json(bom.system_bom(session, principal, system_id)), bom.filename(system))


def _impact_page(request: Request, session: SessionDep, impact: lineage.Impact) -> HTMLResponse:
    units = dict(session.execute(select(BusinessUnit.id, BusinessUnit.name)).all())
    names = {s.id: s.name for s in impact.systems}
    return pages.render(request, "lineage_impact.html", {
        "impact": impact, "units": units, "system_names": names,
        "subject_href": SUBJECT_LINKS[impact.subject_kind].format(impact.subject_id),
        "subject_label": SUBJECT_LABELS[impact.subject_kind],
        "status_options": list(LIFECYCLE_STATUSES.items()), "status_labels": LIFECYCLE_STATUSES,
        "kind_labels": MODEL_KINDS, "env_labels": ENVIRONMENTS, "filters": {"status": impact.status or ""},
        "model_names": {m.id: f"{m.name} {m.version}" for m in impact.models},
    })


@router.get("/datasets/{dataset_id}/impact")
def dataset_impact_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                        dataset_id: int, status: Status = None) -> HTMLResponse:
    impact = lineage.dataset_impact(session, principal, dataset_id, status=status or None)
    return _impact_page(request, session, impact)


@router.get("/vendors/{vendor_id}/impact")
def vendor_impact_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                       vendor_id: int, status: Status = None) -> HTMLResponse:
    impact = lineage.vendor_impact(session, principal, vendor_id, status=status or None)
    return _impact_page(request, session, impact)


@router.get("/models/{model_id}/impact")
def model_impact_page(request: Request, session: SessionDep, principal: require("inventory:read"),
                      model_id: int, status: Status = None) -> HTMLResponse:
    impact = lineage.model_impact(session, principal, model_id, status=status or None)
    return _impact_page(request, session, impact)
