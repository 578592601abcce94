"""HTML pages for sensitive data: a dataset's scans with the start-scan form, one scan's results, the overview
(recent scans, datasets by suggested classification, governance violations), and the panels on the dataset and
AI system pages.

Pages show masked previews only (the database holds nothing else). A record a violation names outside the
reader's business units is shown as such, without its name or a link.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError, FieldError, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.files import service as files_service
from aicoe.files import uploads
from aicoe.files.store import human_size
from aicoe.inventory.constants import CLASSIFICATIONS
from aicoe.models.inventory import AISystem, Dataset
from aicoe.models.jobs import Job
from aicoe.sensitive import rules, schemas, service
from aicoe.web import forms, pages
from aicoe.web.panels import Panel

router = APIRouter()

PAGE_SIZE = 25
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
SEVERITY_BADGES = {"critical": "off", "high": "off", "medium": "st warn", "low": ""}
STATUS_BADGES = {"completed": "on", "failed": "off", "cancelled": "off"}
MODES = {"full": "Every row", "sample": "A sample of rows from each file"}
SOURCES = {"location": "The dataset's location", "upload": "A file I upload"}
CHOOSE_FILE = "Choose a file to upload."


def _labels() -> dict[str, Any]:
    return {"severity_badges": SEVERITY_BADGES, "status_badges": STATUS_BADGES, "mode_labels": MODES,
            "classification_labels": CLASSIFICATIONS}


# --- a dataset's scans -----------------------------------------------------------------------------------------

def _scans_page(request: Request, session: Session, settings: Settings, principal: Principal, dataset_id: int,
                offset: int = 0, values: dict[str, Any] | None = None,
                err: DomainError | None = None) -> HTMLResponse:
    dataset = service.get_dataset(session, principal, dataset_id)
    page = service.list_scans(session, principal, dataset_id, PageParams(limit=PAGE_SIZE, offset=offset))
    form = values if values is not None else {"source": "location" if dataset.location_uri else "upload",
                                               "mode": "full"}
    context = {**_labels(), "dataset": dataset, "page": page, "statuses": service.statuses(session, list(page.items)),
               "can_scan": principal.may(service.SCAN, dataset.business_unit_id),
               "entity_options": service.known_entities(), "chosen_entities": (values or {}).get("entities", []),
               "source_options": list(SOURCES.items()), "mode_options": list(MODES.items()),
               "max_upload": human_size(settings.max_upload_bytes)}
    if err is not None:
        return pages.form_error(request, "sensitive/scans.html", err, form, context)
    return pages.render(request, "sensitive/scans.html", {**context, "form": form})


@router.get("/datasets/{dataset_id}/scans")
def scans_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require(service.READ),
               dataset_id: int, offset: Offset = 0) -> HTMLResponse:
    return _scans_page(request, session, settings, principal, dataset_id, offset)


def _scan_request(session: Session, settings: Settings, principal: Principal, form: forms.FormData,
                  dataset: Dataset) -> schemas.ScanCreate:
    """The form as a scan request; an upload is stored first (it is a file like any other upload)."""
    file_id = None
    if forms.text(form, "source") == "upload":
        principal.check_unit(service.SCAN, dataset.business_unit_id, hide=False)
        part = form.get("file")
        if not isinstance(part, UploadFile) or not part.filename:
            raise ValidationFailed(CHOOSE_FILE, errors=[FieldError("file", CHOOSE_FILE)])
        file_id = files_service.save(session, principal, files_service.store_for(settings), part.file,
                                     filename=part.filename, declared_type=part.content_type,
                                     max_bytes=settings.max_upload_bytes).id
    mode = forms.text(form, "mode") or "full"
    return forms.parse(schemas.ScanCreate, {
        "file_id": file_id, "mode": mode,
        "sample_rows": (forms.text(form, "sample_rows") or None) if mode == "sample" else None,
        "entities": [v for v in form.getlist("entities") if isinstance(v, str) and v]})


@router.post("/datasets/{dataset_id}/scans", dependencies=[Depends(uploads.default_size_guard)])
def start_scan(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep, dataset_id: int,
               principal: require(service.SCAN)) -> Response:
    dataset = service.get_dataset(session, principal, dataset_id)
    try:
        scan, _job = service.start_scan(session, principal, settings, dataset_id,
                                        _scan_request(session, settings, principal, form, dataset))
    except DomainError as err:
        session.rollback()
        for e in err.errors:  # the form's upload field is "file"
            e.field = "file" if e.field == "file_id" else e.field
        values: dict[str, Any] = {**forms.values(form), "entities": form.getlist("entities")}
        return _scans_page(request, session, settings, principal, dataset_id, values=values, err=err)
    return pages.redirect(request, f"/sensitive/scans/{scan.id}",
                          f"Scan {scan.id} of {dataset.name} queued; this page shows its progress.")


# --- one scan --------------------------------------------------------------------------------------------------

def _counts(mapping: dict[str, int], order: tuple[str, ...] | None = None) -> list[tuple[str, int]]:
    if order is not None:
        return [(k, mapping[k]) for k in order if mapping.get(k)]
    return sorted(mapping.items(), key=lambda kv: (-kv[1], kv[0]))


@router.get("/sensitive/scans/{scan_id}")
def scan_page(request: Request, session: SessionDep, principal: require(service.READ),
              scan_id: int) -> HTMLResponse:
    scan = service.get_scan(session, principal, scan_id)
    job = session.get(Job, scan.job_id) if scan.job_id is not None else None
    return pages.render(request, "sensitive/scan.html", {
        **_labels(), "scan": scan, "job": job, "status": service.statuses(session, [scan])[scan.id],
        "upload_name": service.file_name(session, scan),
        "entity_counts": _counts(scan.entity_counts),
        "severity_counts": _counts(scan.severity_counts, ("critical", "high", "medium", "low")),
        "findings": sorted(scan.findings, key=lambda f: (rules.SEVERITY_ORDER.get(f.severity, 9), f.file,
                                                          f.column or "", f.entity))})


# --- the overview ----------------------------------------------------------------------------------------------

def _named(principal: Principal, violations: list[rules.Violation]) -> list[dict[str, Any]]:
    """Violations with each record's visibility, so the template names only what the reader may see."""
    return [{"v": v, "dataset": rules.visible(principal, v.dataset), "model": rules.visible(principal, v.model),
             "system": rules.visible(principal, v.system)} for v in violations]


@router.get("/sensitive")
def overview_page(request: Request, session: SessionDep, principal: require(service.READ)) -> HTMLResponse:
    scanned = service.scanned_datasets(session, principal)
    by_class: dict[str, list[Dataset]] = {c: [] for c in reversed(CLASSIFICATIONS)}
    for dataset in scanned:
        if dataset.suggested_classification in by_class:
            by_class[dataset.suggested_classification].append(dataset)
    scans = service.recent_scans(session, principal)
    return pages.render(request, "sensitive/overview.html", {
        **_labels(), "scans": scans, "statuses": service.statuses(session, scans), "by_class": by_class,
        "violations": _named(principal, rules.all_violations(session, principal)), "rules": rules.RULES})


# --- panels ----------------------------------------------------------------------------------------------------

def dataset_panel(session: Session, principal: Principal, dataset: Dataset) -> Panel | None:
    """What the latest scan found, the suggested classification, and the dataset's governance violations."""
    if not principal.may(service.READ, dataset.business_unit_id):
        return None
    latest = service.latest_scan(session, dataset.id)
    return Panel("Sensitive data", "sensitive/_dataset_panel.html", {
        **_labels(), "dataset": dataset, "latest": latest,
        "statuses": service.statuses(session, [latest] if latest else []),
        "entities": _counts(dataset.pii_entities or {}),
        "violations": _named(principal, rules.violations_for_dataset(session, dataset)),
        "can_scan": principal.may(service.SCAN, dataset.business_unit_id)})


def system_panel(session: Session, principal: Principal, system: AISystem) -> Panel | None:
    """Governance violations in the data this AI system uses."""
    if not principal.may(service.READ, system.business_unit_id):
        return None
    return Panel("Data-governance violations", "sensitive/_system_panel.html", {
        **_labels(), "violations": _named(principal, rules.violations_for_system(session, system))})
