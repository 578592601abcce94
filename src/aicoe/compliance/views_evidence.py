"""HTML pages for evidence: the list (filters; expired and expiring-soon highlighted), adding a file, a link or a
record reference, and the evidence page (metadata and hash, versions, links, a new version, reviewer sign-off).

``/evidence/new?attach=<target type>:<id>`` (for instance ``requirement_result:12``) attaches the new evidence to
that target once added, so other pages can offer "add evidence for this". Reads and writes go through the
evidence service; a refused form comes back with the errors next to its fields and what the user typed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, in_scope
from aicoe.compliance import controls, evidence
from aicoe.compliance import schemas_evidence as schemas
from aicoe.compliance.api_evidence import upload_size_guard
from aicoe.compliance.constants import (
    EVIDENCE_KINDS,
    EVIDENCE_RECORD_TYPES,
    EVIDENCE_TYPES,
    IMPLEMENTATION_STATUSES,
    REVIEW_STATUSES,
)
from aicoe.config import Settings
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.files.store import human_size
from aicoe.models.compliance import Control, ControlImplementation, Evidence
from aicoe.models.risk import Risk
from aicoe.org.service import unit_choices
from aicoe.web import forms, pages

router = APIRouter()

READ, WRITE, REVIEW = evidence.READ, evidence.WRITE, evidence.REVIEW
PAGE_SIZE = 25
PICKER_LIMIT = 500
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=200)]
SORTS = [("-created_at", "Newest first"), ("expires_on", "Expiring first"), ("title", "Title"),
         ("-effective_date", "Most recent effective date")]
REVIEW_BADGES = {"accepted": "on", "rejected": "off", "pending": "st info"}
EXPIRY_BADGES = {"expired": "off", "expiring": "st warn"}
META_FIELDS = ("title", "description", "evidence_type", "business_unit_id", "effective_date", "expires_on")


def _labels(settings: Settings) -> dict[str, Any]:
    return {"kind_labels": EVIDENCE_KINDS, "type_labels": EVIDENCE_TYPES, "review_labels": REVIEW_STATUSES,
            "review_badges": REVIEW_BADGES, "expiry_badges": EXPIRY_BADGES, "record_labels": EVIDENCE_RECORD_TYPES,
            "target_labels": evidence.TARGET_TYPES, "today": date.today(),
            "within_days": settings.evidence_reminder_days, "human_size": human_size}


def expiry_of(settings: Settings, row: Evidence) -> str | None:
    return evidence.expiry_state(row, date.today(), settings.evidence_reminder_days)


# --- the list ----------------------------------------------------------------------------------------------------

@router.get("/evidence")
def list_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require("compliance:read"),
              q: Filter = None, kind: Filter = None, evidence_type: Filter = None, review_status: Filter = None,
              expiry: Filter = None, business_unit_id: Filter = None, sort: Filter = None,
              offset: Offset = 0) -> HTMLResponse:
    filters = {k: (v or "").strip() for k, v in dict(
        q=q, kind=kind, evidence_type=evidence_type, review_status=review_status, expiry=expiry,
        business_unit_id=business_unit_id, sort=sort).items()}
    page = evidence.list_evidence(
        session, principal, PageParams(limit=PAGE_SIZE, offset=offset, sort=filters["sort"] or None),
        q=filters["q"] or None, kind=filters["kind"] or None, evidence_type=filters["evidence_type"] or None,
        review_status=filters["review_status"] or None, expiry=filters["expiry"] or None,
        within_days=settings.evidence_reminder_days,
        business_unit_id=forms.query_id(business_unit_id, "business_unit_id"))
    return pages.render(request, "compliance/evidence_list.html", {
        **_labels(settings), "page": page, "filters": filters,
        "pager_url": forms.query_url("/evidence", **filters),
        "expiry": {row.id: expiry_of(settings, row) for row in page.items},
        "counts": evidence.counts(session, principal, settings.evidence_reminder_days),
        "kind_options": list(EVIDENCE_KINDS.items()), "type_options": list(EVIDENCE_TYPES.items()),
        "review_options": list(REVIEW_STATUSES.items()), "expiry_options": list(evidence.EXPIRY_FILTERS.items()),
        "unit_options": unit_choices(session, principal, READ), "sorts": SORTS,
        "can_add": principal.has(WRITE)})


# --- adding ------------------------------------------------------------------------------------------------------

def _attach(session: Session, principal: Principal, raw: str) -> evidence.Target | None:
    """The target named by ``attach`` (``type:id``), if the caller may change it."""
    target_type, _, target_id = raw.partition(":")
    if not raw:
        return None
    if target_type not in evidence.TARGET_TYPES or not target_id.isdigit():
        raise ValidationFailed(f"cannot attach to {raw!r}", errors=[FieldError("attach", "Not a valid target.")])
    return evidence.resolve_target(session, principal, target_type, int(target_id))


def _new_page(request: Request, session: Session, settings: Settings, principal: Principal, values: dict[str, Any],
              *, tab: str = "file", err: DomainError | None = None) -> HTMLResponse:
    units = unit_choices(session, principal, WRITE)
    context = {**_labels(settings), "tab": tab, "unit_options": units,
               "type_options": list(EVIDENCE_TYPES.items()),
               "record_options": [(k, evidence.record_label(k)) for k in sorted(evidence.RECORD_RESOLVERS)],
               "target": _attach(session, principal, str(values.get("attach", ""))),
               "max_size": human_size(settings.evidence_max_bytes)}
    if err is not None:
        return pages.form_error(request, "compliance/evidence_new.html", err, values, context)
    return pages.render(request, "compliance/evidence_new.html", {**context, "form": values})


@router.get("/evidence/new")
def new_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require("compliance:write"),
             attach: Annotated[str, Query(max_length=60)] = "",
             kind: Annotated[str, Query(pattern="^(file|link|record)$")] = "file",
             record_type: Annotated[str, Query(max_length=24)] = "",
             record_ref: Annotated[str, Query(max_length=120)] = "") -> HTMLResponse:
    """``record_type``/``record_ref`` prefill a record citation (an evaluation run's "Use as evidence" link)."""
    units = {u for u, _ in unit_choices(session, principal, WRITE)}
    home = principal.user.business_unit_id
    values = {"business_unit_id": home if home in units else "", "effective_date": date.today().isoformat(),
              "attach": attach, "record_type": record_type if record_type in evidence.RECORD_RESOLVERS else "",
              "record_ref": record_ref}
    return _new_page(request, session, settings, principal, values, tab=kind)


def _meta(form: forms.FormData) -> schemas.EvidenceMeta:
    return forms.parse(schemas.EvidenceMeta, {k: v for k in META_FIELDS if (v := forms.text(form, k))})


def _added(request: Request, session: Session, principal: Principal, form: forms.FormData, row: Evidence) -> Response:
    target = _attach(session, principal, forms.text(form, "attach"))
    if target is None:
        return pages.redirect(request, f"/evidence/{row.id}", f"{row.title} added.")
    evidence.link(session, principal, row.id, target.type, target.id)
    return pages.redirect(request, target.url, f"{row.title} added and attached to {target.label}.")


def _adding(request: Request, session: Session, settings: Settings, principal: Principal, form: forms.FormData,
            tab: str, add: Any) -> Response:
    try:
        row = add()
        return _added(request, session, principal, form, row)
    except DomainError as err:
        session.rollback()
        return _new_page(request, session, settings, principal, forms.values(form), tab=tab, err=err)


@router.post("/evidence/files", dependencies=[Depends(upload_size_guard)])
def add_file(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
             principal: require("compliance:write")) -> Response:
    def add() -> Evidence:
        meta = _meta(form)
        part = form.get("file")
        if not isinstance(part, UploadFile) or not part.filename:
            raise ValidationFailed("choose a file", errors=[FieldError("file", "Choose a file to upload.")])
        return evidence.add_file(session, principal, settings, part.file, part.filename, part.content_type,
                                 **meta.model_dump())
    return _adding(request, session, settings, principal, form, "file", add)


@router.post("/evidence/links")
def add_link(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
             principal: require("compliance:write")) -> Response:
    def add() -> Evidence:
        meta = _meta(form)
        url = forms.text(form, "url")
        if not url:
            raise ValidationFailed("enter the address", errors=[FieldError("url", "This field is required.")])
        return evidence.add_link(session, principal, url=url, **meta.model_dump())
    return _adding(request, session, settings, principal, form, "link", add)


@router.post("/evidence/records")
def add_record(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
               principal: require("compliance:write")) -> Response:
    def add() -> Evidence:
        meta = _meta(form)
        record_type, record_ref = forms.text(form, "record_type"), forms.text(form, "record_ref")
        if not record_type:
            raise ValidationFailed("choose the kind of record",
                                   errors=[FieldError("record_type", "Choose the kind of record.")])
        return evidence.add_record(session, principal, record_type=record_type, record_ref=record_ref,
                                   **meta.model_dump())
    return _adding(request, session, settings, principal, form, "record", add)


# --- the evidence page -------------------------------------------------------------------------------------------

def _link_options(session: Session, principal: Principal) -> list[tuple[str, list[tuple[str, str]]]]:
    """Targets the caller may attach evidence to from this page: control implementations and risks."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    if principal.has(WRITE):
        impls = list(session.scalars(
            select(ControlImplementation).join(Control, Control.id == ControlImplementation.control_id)
            .where(controls.visible_implementations(principal, WRITE)).order_by(Control.code)
            .limit(PICKER_LIMIT)))
        if principal.scope(WRITE) is not None:
            impls = [i for i in impls if i.business_unit_id is not None]
        labels = controls.subject_labels(session, impls)
        groups.append(("Control implementations", [
            (f"control_implementation:{i.id}", f"{i.control.code} on {labels[(i.subject_type, i.subject_id)]} "
                                                f"({IMPLEMENTATION_STATUSES.get(i.status, i.status).lower()})")
            for i in impls]))
    if principal.has("risk:write"):
        risks = session.scalars(select(Risk).where(in_scope(Risk.business_unit_id, principal.scope("risk:write")))
                                .order_by(Risk.key).limit(PICKER_LIMIT))
        groups.append(("Risks", [(f"risk:{r.id}", f"{r.key} {r.title}") for r in risks]))
    return [(label, options) for label, options in groups if options]


def _detail(request: Request, session: Session, settings: Settings, principal: Principal, evidence_id: int, *,
            err: DomainError | None = None, form: dict[str, Any] | None = None) -> HTMLResponse:
    row = evidence.get_evidence(session, principal, evidence_id)
    can_write = principal.may(WRITE, row.business_unit_id)
    links = evidence.links_of(session, row)
    context: dict[str, Any] = {
        **_labels(settings), "ev": row, "expiry": expiry_of(settings, row),
        "versions": evidence.versions(session, principal, evidence_id),
        "links": links, "can_write": can_write,
        "can_review": row.is_latest and principal.may(REVIEW, row.business_unit_id),
        "own_upload": row.uploaded_by_id == principal.user.id,
        "record_state": evidence.record_state(session, row) if row.kind == "record" else None,
        "link_options": _link_options(session, principal),
        "may_unlink": {link.id: target is None or evidence.may_change(principal, target)
                       for link, target in links},
        "max_size": human_size(settings.evidence_max_bytes)}
    if err is not None:
        return pages.form_error(request, "compliance/evidence.html", err, form or {}, context)
    return pages.render(request, "compliance/evidence.html", context)


@router.get("/evidence/{evidence_id}")
def detail_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require("compliance:read"),
                evidence_id: int) -> HTMLResponse:
    return _detail(request, session, settings, principal, evidence_id)


def _acting(request: Request, session: Session, settings: Settings, principal: Principal, evidence_id: int,
            form: forms.FormData, action: Any, anchor: str, message: str) -> Response:
    return pages.attempt(request, session, action, message=message,
                         then=lambda target_id: f"/evidence/{target_id or evidence_id}#{anchor}",
                         on_error=lambda err: _detail(request, session, settings, principal, evidence_id, err=err,
                                                      form=forms.values(form)))


@router.post("/evidence/{evidence_id}/versions", dependencies=[Depends(upload_size_guard)])
def add_version(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                evidence_id: int, principal: require("compliance:write")) -> Response:
    evidence.get_evidence(session, principal, evidence_id)

    def act() -> int:
        names = ("effective_date", "expires_on", "title", "url", "record_ref")
        body = forms.parse(schemas.VersionIn, {k: v for k in names if (v := forms.text(form, k))})
        part = form.get("file")
        content = ({"stream": part.file, "filename": part.filename, "content_type": part.content_type}
                   if isinstance(part, UploadFile) and part.filename else {})
        return evidence.new_version(session, principal, settings, evidence_id,
                                    **body.model_dump(exclude={"description"}), **content).id
    return _acting(request, session, settings, principal, evidence_id, form, act, "versions", "New version added.")


@router.post("/evidence/{evidence_id}/review")
def review(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep, evidence_id: int,
           principal: require("evidence:review")) -> Response:
    def act() -> None:
        body = forms.parse(schemas.ReviewIn, {"decision": forms.text(form, "decision") or None,
                                              "note": forms.text(form, "note")})
        evidence.review(session, principal, evidence_id, body.decision, body.note)
    return _acting(request, session, settings, principal, evidence_id, form, act, "review", "Review recorded.")


@router.post("/evidence/{evidence_id}/links")
def add_link_to_target(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                       evidence_id: int, principal: require("compliance:write")) -> Response:
    def act() -> None:
        target_type, _, target_id = forms.text(form, "target").partition(":")
        if target_type not in evidence.TARGET_TYPES or not target_id.isdigit():
            raise ValidationFailed("choose what to attach the evidence to",
                                   errors=[FieldError("target", "Choose a control implementation or a risk.")])
        evidence.link(session, principal, evidence_id, target_type, int(target_id))
    return _acting(request, session, settings, principal, evidence_id, form, act, "links", "Evidence attached.")


@router.post("/evidence/{evidence_id}/links/{link_id}/delete")
def remove_link(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
                evidence_id: int, link_id: int, principal: require("compliance:write")) -> Response:
    return _acting(request, session, settings, principal, evidence_id, form,
                   lambda: evidence.unlink(session, principal, evidence_id, link_id), "links", "Link removed.")
