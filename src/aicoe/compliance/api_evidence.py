"""JSON routes for evidence: list, add (file, link, record), read, download, versions, review, links, reminders.

Files and new versions come as ``multipart/form-data`` (URL-encoded when no file is sent): the metadata as form
fields and, for a file, the part ``file``. The Content-Length is checked before the body is read, so an upload
far over ``evidence_max_bytes`` is refused without being received; the exact limit and the type rules apply
again while the bytes are stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from aicoe.auth.deps import require
from aicoe.compliance import evidence
from aicoe.compliance import schemas_evidence as schemas
from aicoe.compliance.evidence_reminders import send_reminders
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.files import responses, uploads
from aicoe.models.compliance import Evidence
from aicoe.web import forms
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["evidence"])

Text = Annotated[str | None, Query(max_length=200)]
upload_size_guard = uploads.size_guard(lambda settings: settings.evidence_max_bytes)
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def _form(request: Request) -> tuple[FormData, UploadFile | None]:
    """The form fields and the file part; URL-encoded forms are accepted when no file is sent."""
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        raise ValidationFailed("send the evidence as multipart/form-data", errors=[FieldError("file", "Missing.")])
    form = await request.form(max_files=1, max_fields=20)
    part = form.get("file")
    return form, part if isinstance(part, UploadFile) else None


def _fields(form: FormData, names: tuple[str, ...]) -> dict[str, Any]:
    """The named text fields that were sent (empty ones as absent, so defaults apply)."""
    return {name: value for name in names if (value := forms.text(form, name))}


def detail_out(session: Session, row: Evidence) -> dict[str, Any]:
    out = schemas.EvidenceOut.model_validate(row).model_dump()
    out["links"] = [{"id": link.id, "target_type": link.target_type, "target_id": link.target_id,
                     "target": target and {"type": target.type, "id": target.id, "label": target.label,
                                           "url": target.url}}
                    for link, target in evidence.links_of(session, row)]
    out["record_state"] = evidence.record_state(session, row) if row.kind == "record" else None
    return out


@router.get("/evidence", response_model=PageOut[schemas.EvidenceOut])
def list_evidence(session: SessionDep, settings: SettingsDep, principal: require("compliance:read"),
                  page: PageQuery, kind: Text = None, evidence_type: Text = None, review_status: Text = None,
                  expiry: Annotated[str | None, Query(max_length=20, description="expired, expiring or valid")] = None,
                  within_days: Annotated[int | None, Query(ge=0, le=3650, description="'expiring' horizon; default "
                                                                                     "evidence_reminder_days")] = None,
                  business_unit_id: int | None = None, q: Text = None, all_versions: bool = False) -> dict[str, Any]:
    """Latest versions unless ``all_versions``. Sort by title, effective_date, expires_on or created_at
    (default: newest first)."""
    result = evidence.list_evidence(
        session, principal, page, kind=kind, evidence_type=evidence_type, review_status=review_status,
        expiry=expiry, within_days=settings.evidence_reminder_days if within_days is None else within_days,
        business_unit_id=business_unit_id, q=q, all_versions=all_versions)
    return page_out(result, schemas.EvidenceOut)


@router.post("/evidence/files", response_model=schemas.EvidenceOut, status_code=201,
             dependencies=[Depends(upload_size_guard)])
async def add_file(request: Request, session: SessionDep, settings: SettingsDep,
                   principal: require("compliance:write")) -> Evidence:
    """Multipart: the part ``file`` and the fields title (default: the file name), business_unit_id,
    effective_date, expires_on, evidence_type, description. Refused: over the limit (413), a type that is not
    accepted or content that contradicts its name (415)."""
    form, part = await _form(request)
    meta = forms.parse(schemas.EvidenceMeta, _fields(form, tuple(schemas.EvidenceMeta.model_fields)))
    if part is None:
        raise ValidationFailed("attach the file as the multipart part named 'file'",
                               errors=[FieldError("file", "Choose a file to upload.")])
    return await run_in_threadpool(evidence.add_file, session, principal, settings, part.file, part.filename,
                                   part.content_type, **meta.model_dump())


@router.post("/evidence/links", response_model=schemas.EvidenceOut, status_code=201)
def add_link(session: SessionDep, principal: require("compliance:write"), body: schemas.LinkCreate) -> Evidence:
    """A web page or document held elsewhere; http and https URLs only."""
    return evidence.add_link(session, principal, **body.model_dump())


@router.post("/evidence/records", response_model=schemas.EvidenceOut, status_code=201)
def add_record(session: SessionDep, principal: require("compliance:write"), body: schemas.RecordCreate) -> Evidence:
    """A platform record, captured now and hashed: record_type classification (id), assessment (id), review
    (key, e.g. REV-0001), attestation (id) or audit_event (sequence number). A missing record answers 404."""
    return evidence.add_record(session, principal, **body.model_dump())


@router.post("/evidence/reminders", response_model=schemas.ReminderOut)
def run_reminders(session: SessionDep, settings: SettingsDep,
                  principal: require("compliance:write")) -> dict[str, Any]:
    """Remind now about evidence in the caller's writable units that expires within evidence_reminder_days or
    has expired (each at most once every 7 days)."""
    return send_reminders(session, principal, settings).as_dict()


@router.get("/evidence/{evidence_id}", response_model=schemas.EvidenceDetail)
def get_evidence(session: SessionDep, principal: require("compliance:read"), evidence_id: int) -> dict[str, Any]:
    """One version, with the links of its series and, for a record, whether it still matches its hash."""
    return detail_out(session, evidence.get_evidence(session, principal, evidence_id))


@router.get("/evidence/{evidence_id}/download")
def download(session: SessionDep, settings: SettingsDep, principal: require("compliance:read"),
             evidence_id: int) -> StreamingResponse:
    """The file's bytes, always as an attachment (never rendered inline by the browser)."""
    return responses.download(settings, evidence.file_for_download(session, principal, evidence_id))


@router.get("/evidence/{evidence_id}/versions", response_model=list[schemas.EvidenceOut])
def list_versions(session: SessionDep, principal: require("compliance:read"), evidence_id: int) -> list[Evidence]:
    """Every version of the series, newest first."""
    return evidence.versions(session, principal, evidence_id)


@router.post("/evidence/{evidence_id}/versions", response_model=schemas.EvidenceOut, status_code=201,
             dependencies=[Depends(upload_size_guard)])
async def add_version(request: Request, session: SessionDep, settings: SettingsDep,
                      principal: require("compliance:write"), evidence_id: int) -> Evidence:
    """Multipart for every kind: effective_date, expires_on, title and description (default: the previous
    version's), and the content of the series' kind: the part ``file``, the field ``url``, or ``record_ref``
    (empty: capture the same record again). The new version is the latest and awaits review."""
    form, part = await _form(request)
    body = forms.parse(schemas.VersionIn, _fields(form, tuple(schemas.VersionIn.model_fields)))
    content = {"stream": part.file, "filename": part.filename, "content_type": part.content_type} if part else {}
    return await run_in_threadpool(evidence.new_version, session, principal, settings, evidence_id,
                                   **body.model_dump(), **content)


@router.post("/evidence/{evidence_id}/review", response_model=schemas.EvidenceOut)
def review(session: SessionDep, principal: require("evidence:review"), evidence_id: int,
           body: schemas.ReviewIn) -> Evidence:
    """Accept or reject the latest version; not by whoever added it; a rejection needs a note."""
    return evidence.review(session, principal, evidence_id, body.decision, body.note)


@router.post("/evidence/{evidence_id}/links", response_model=schemas.EvidenceLinkOut, status_code=201)
def add_evidence_link(session: SessionDep, principal: require("compliance:write"), evidence_id: int,
                      body: schemas.LinkIn) -> object:
    """Attach the evidence (its whole series) to a requirement result, a control implementation or a risk."""
    return evidence.link(session, principal, evidence_id, body.target_type, body.target_id)


@router.delete("/evidence/{evidence_id}/links/{link_id}", status_code=204)
def remove_evidence_link(session: SessionDep, principal: require("compliance:write"), evidence_id: int,
                         link_id: int) -> Response:
    evidence.unlink(session, principal, evidence_id, link_id)
    return Response(status_code=204)
