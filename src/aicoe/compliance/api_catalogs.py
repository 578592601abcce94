"""JSON routes for framework catalogs: frameworks with their requirement trees, requirements with their
cross-framework mappings, mapping sets, and importing catalog and mapping files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from aicoe.auth.deps import require
from aicoe.catalogs.loader import MAX_FILE_BYTES
from aicoe.compliance import frameworks as service
from aicoe.compliance import schemas_catalogs as schemas
from aicoe.core.deps import SessionDep
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.files import uploads
from aicoe.models.compliance import Framework
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["catalogs"])

Text = Annotated[str | None, Query(max_length=200)]
FrameworkIdent = Annotated[str, Path(max_length=64, description="the numeric id, or the key (nist-ai-rmf) for the "
                                                                "current version or the version given")]


# --- uploads -------------------------------------------------------------------------------------------------------

upload_guard = uploads.size_guard(lambda settings: MAX_FILE_BYTES)


async def _upload(request: Request) -> tuple[bytes, str]:
    """The bytes and name of the multipart part ``file``."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationFailed("send the file as multipart/form-data", errors=[FieldError("file", "Missing.")])
    form = await request.form(max_files=1, max_fields=5)
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise ValidationFailed("attach the file as the multipart part named 'file'",
                               errors=[FieldError("file", "Choose a file to upload.")])
    return await part.read(), part.filename or "upload.yaml"


# --- frameworks and requirements ---------------------------------------------------------------------------------

def _framework_detail(session: Session, framework: Framework) -> schemas.FrameworkDetail:
    listing = service.listing_of(session, framework)
    tree = service.requirement_tree(session, framework.id)
    return schemas.FrameworkDetail.model_validate({
        **schemas.FrameworkSummary.of(listing).model_dump(), "licence": framework.licence,
        "description": framework.description, "file_sha256": framework.file_sha256,
        "requirements": [schemas.RequirementNodeOut.of(node) for node in tree]})


@router.get("/frameworks", response_model=list[schemas.FrameworkSummary])
def list_frameworks(session: SessionDep, principal: require("compliance:read"),
                    current_only: Annotated[bool, Query(description="only the version in use of each")] = False,
                    ) -> list[schemas.FrameworkSummary]:
    """Every loaded framework version with its number of requirements, by name, the current version first."""
    return [schemas.FrameworkSummary.of(item)
            for item in service.list_frameworks(session, principal, current_only=current_only)]


@router.post("/frameworks/import", response_model=schemas.ImportOut, status_code=201,
             dependencies=[Depends(upload_guard)])
async def import_framework(request: Request, session: SessionDep, principal: require("catalog:import"),
                           response: Response) -> service.ImportOutcome:
    """Load a catalog file (``schema: aicoe-catalog/1``) sent as the multipart part ``file``. 201 when a new
    framework version was created, 200 when the same version with the same content is already loaded; 422 lists
    every problem (file, path, line, reason) of an invalid file and nothing is written; 409 when the version
    exists with other content."""
    data, filename = await _upload(request)
    outcome = await run_in_threadpool(service.import_catalog, session, principal, data, filename)
    if outcome.status == "unchanged":
        response.status_code = 200
    return outcome


@router.get("/frameworks/{framework}", response_model=schemas.FrameworkDetail)
def get_framework(session: SessionDep, principal: require("compliance:read"), framework: FrameworkIdent,
                  version: Text = None) -> schemas.FrameworkDetail:
    """A framework version with its provenance and requirement tree; ``framework`` is the numeric id, or the
    key (``nist-ai-rmf``) for the current version or the ``version`` given."""
    return _framework_detail(session, service.get_framework(session, principal, framework, version))


@router.get("/frameworks/{framework}/requirements", response_model=PageOut[schemas.RequirementOut])
def list_requirements(session: SessionDep, principal: require("compliance:read"), framework: FrameworkIdent,
                      page: PageQuery, version: Text = None,
                      q: Annotated[str | None, Query(max_length=200, description="in the ref, title or summary")]
                      = None, kind: Text = None, assessable: bool | None = None) -> dict[str, Any]:
    """The framework's requirements as a flat list in the source's order (sort: position, ref, title)."""
    row = service.get_framework(session, principal, framework, version)
    service.check_kind(kind, service.kinds_of(session, row.id))
    result = service.search_requirements(session, principal, page, framework_id=row.id, q=q, kind=kind,
                                         assessable=assessable)
    return page_out(result, schemas.RequirementOut)


@router.get("/requirements", response_model=PageOut[schemas.RequirementListItem])
def search_requirements(session: SessionDep, principal: require("compliance:read"), page: PageQuery,
                        q: Annotated[str | None, Query(max_length=200, description="in the ref, title or summary")]
                        = None, assessable: bool | None = None,
                        all_versions: Annotated[bool, Query(description="include superseded versions")] = False,
                        ) -> dict[str, Any]:
    """Requirements of every framework (current versions unless ``all_versions``), by framework and position."""
    result = service.search_requirements(session, principal, page, q=q, assessable=assessable,
                                         current_only=not all_versions)
    return page_out(result, schemas.RequirementListItem)


@router.get("/requirements/{requirement_id}", response_model=schemas.RequirementDetail)
def get_requirement(session: SessionDep, principal: require("compliance:read"),
                    requirement_id: int) -> schemas.RequirementDetail:
    """A requirement with its framework, its ancestors and children, and its mappings in both directions."""
    requirement = service.get_requirement(session, principal, requirement_id)
    return schemas.RequirementDetail.model_validate({
        **schemas.RequirementOut.model_validate(requirement).model_dump(),
        "framework": requirement.framework, "ancestors": service.ancestors(requirement),
        "children": service.children_of(session, requirement.id),
        "mappings": service.requirement_mappings(session, requirement.id)})


@router.get("/mappings", response_model=list[schemas.MappingSetOut])
def list_mappings(session: SessionDep, principal: require("compliance:read")) -> list[service.MappingSet]:
    """Each cross-framework mapping set with the framework versions it links and its links by relation."""
    return service.list_mapping_sets(session, principal)


@router.post("/mappings/import", response_model=schemas.ImportOut, status_code=201,
             dependencies=[Depends(upload_guard)])
async def import_mapping(request: Request, session: SessionDep, principal: require("catalog:import"),
                         response: Response) -> service.ImportOutcome:
    """Load a mapping file (``schema: aicoe-mapping/1``, multipart part ``file``) between the current versions
    of its two frameworks. Loading the same set again replaces its links (201 when anything changed, 200 when
    nothing did)."""
    data, filename = await _upload(request)
    outcome = await run_in_threadpool(service.import_mapping, session, principal, data, filename)
    if outcome.status == "unchanged":
        response.status_code = 200
    return outcome
