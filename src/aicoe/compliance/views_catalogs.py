"""HTML pages for framework catalogs: the list of frameworks and mapping sets, a framework with its provenance
and requirement tree (filtered with ``?q=`` and ``?kind=``, no script needed), a requirement with its mappings,
and the import form for catalog:import holders.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from aicoe.auth.deps import require
from aicoe.catalogs.loader import MAX_FILE_BYTES, CatalogError
from aicoe.compliance import constants
from aicoe.compliance import frameworks as service
from aicoe.compliance.api_catalogs import upload_guard
from aicoe.core.deps import SessionDep
from aicoe.core.errors import DomainError, FieldError, PayloadTooLarge, Problem, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.models.org import User
from aicoe.web import forms, pages

router = APIRouter()

Filter = Annotated[str | None, Query(max_length=200)]
IMPORT_KINDS = [("catalog", "Framework catalog (schema: aicoe-catalog/1)"),
                ("mapping", "Cross-framework mapping (schema: aicoe-mapping/1)")]
MAX_MATCHES = 2000  # more than any framework has requirements


def _labels() -> dict[str, object]:
    return {"relation_labels": constants.MAPPING_RELATIONS, "evidence_labels": constants.EVIDENCE_TYPES,
            "rule_text": service.rule_text}


@router.get("/frameworks")
def list_page(request: Request, session: SessionDep, principal: require("compliance:read")) -> HTMLResponse:
    listings = service.list_frameworks(session, principal)
    return pages.render(request, "compliance/frameworks.html", {
        "current": [item for item in listings if item.framework.is_current],
        "older": [item for item in listings if not item.framework.is_current],
        "mapping_sets": service.list_mapping_sets(session, principal),
        "can_import": principal.has("catalog:import"),
    })


# --- import (before /frameworks/{framework}, which would otherwise take "import" as a key) -------------------------

def _import_page(request: Request, values: dict[str, str], *, err: DomainError | None = None) -> HTMLResponse:
    context: dict[str, object] = {"kinds": IMPORT_KINDS, "max_mib": MAX_FILE_BYTES // 2**20}
    if isinstance(err, CatalogError):  # every problem in a table; the summary above it names the file
        context["problems"] = err.problems
        return pages.render(request, "compliance/framework_import.html", {
            **context, "form": values, "problem": Problem(err.title, err.detail)}, status=err.status)
    if err is not None:
        return pages.form_error(request, "compliance/framework_import.html", err, values, context)
    return pages.render(request, "compliance/framework_import.html", {**context, "form": values})


@router.get("/frameworks/import")
def import_page(request: Request, principal: require("catalog:import")) -> HTMLResponse:
    return _import_page(request, {"kind": "catalog"})


@router.post("/frameworks/import", dependencies=[Depends(upload_guard)])
def import_upload(request: Request, session: SessionDep, principal: require("catalog:import"),
                  form: forms.FormDep) -> Response:
    values = {"kind": forms.text(form, "kind") or "catalog"}
    part = form.get("file")
    try:
        if values["kind"] not in dict(IMPORT_KINDS):
            raise ValidationFailed("unknown kind of file", errors=[FieldError("kind", "Choose what the file is.")])
        if not isinstance(part, UploadFile) or not part.filename:
            raise ValidationFailed("no file chosen", errors=[FieldError("file", "Choose a file to upload.")])
        data = part.file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB",
                                  errors=[FieldError("file", f"Choose a file of at most {MAX_FILE_BYTES // 2**20} "
                                                             "MiB.")])
        load = service.import_mapping if values["kind"] == "mapping" else service.import_catalog
        outcome = load(session, principal, data, part.filename)
    except DomainError as err:
        session.rollback()
        return _import_page(request, values, err=err)
    message = {"created": f"Imported {outcome.label}.", "updated": f"Updated the mapping {outcome.label}.",
               "unchanged": f"{outcome.label} was already loaded with this content; nothing changed."}[outcome.status]
    if outcome.kind == "mapping":
        counts = outcome.counts
        if outcome.status != "unchanged":
            message += (f" {counts['links']} links: {counts['added']} added, {counts['removed']} removed, "
                        f"{counts['changed']} changed.")
        return pages.redirect(request, "/frameworks#mappings", message)
    return pages.redirect(request, f"/frameworks/{outcome.framework_id}", message)


# --- a framework ------------------------------------------------------------------------------------------------

@router.get("/frameworks/{framework}")
def framework_page(request: Request, session: SessionDep, principal: require("compliance:read"), framework: str,
                   version: Filter = None, q: Filter = None, kind: Filter = None) -> HTMLResponse:
    row = service.get_framework(session, principal, framework, version)
    kinds = service.kinds_of(session, row.id)
    filters = {"q": (q or "").strip(), "kind": (kind or "").strip()}
    service.check_kind(filters["kind"], kinds)
    filtered = bool(filters["q"] or filters["kind"])
    matches: list[int] | None = None
    if filtered:
        found = service.search_requirements(session, principal, PageParams(limit=MAX_MATCHES), framework_id=row.id,
                                            q=filters["q"] or None, kind=filters["kind"] or None)
        matches = [r.id for r in found.items]
    tree = service.requirement_tree(session, row.id, only=matches)
    shown = [node.requirement.id for node in _walk(tree)]
    return pages.render(request, "compliance/framework.html", {
        **_labels(), "framework": row, "listing": service.listing_of(session, row),
        "versions": service.versions_of(session, principal, row.key), "tree": tree,
        "mappings": service.mappings_for(session, shown), "filters": filters, "filtered": filtered,
        "matches": set(matches or []), "kind_options": [(k, k.replace("_", " ").capitalize()) for k in kinds],
        "imported_by": session.get(User, row.imported_by_id) if row.imported_by_id else None,
    })


def _walk(nodes: list[service.TreeNode]) -> list[service.TreeNode]:
    out: list[service.TreeNode] = []
    for node in nodes:
        out.append(node)
        out.extend(_walk(node.children))
    return out


# --- a requirement -------------------------------------------------------------------------------------------------

@router.get("/requirements/{requirement_id}")
def requirement_page(request: Request, session: SessionDep, principal: require("compliance:read"),
                     requirement_id: int) -> HTMLResponse:
    requirement = service.get_requirement(session, principal, requirement_id)
    return pages.render(request, "compliance/requirement.html", {
        **_labels(), "requirement": requirement, "framework": requirement.framework,
        "ancestors": service.ancestors(requirement), "children": service.children_of(session, requirement.id),
        "mappings": service.requirement_mappings(session, requirement.id),
    })
