"""JSON routes for dataset scans, their findings, data-governance violations and the text scan.

``POST /sensitive/scan-text`` is for other services (the gateway, a data pipeline): it returns entity types,
offsets, scores and reasons, never the matched text, so nothing sensitive travels back or lands in a log; the
caller cuts a value out of its own text when it needs it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.sensitive import rules, schemas, service
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["sensitive data"])


def _ref(principal: Principal, ref: rules.Ref | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"id": ref.id, "business_unit_id": ref.business_unit_id,
            "name": ref.name if rules.visible(principal, ref) else None}


def violation_out(principal: Principal, v: rules.Violation) -> schemas.ViolationOut:
    return schemas.ViolationOut.model_validate({
        "rule": v.rule.id, "title": v.rule.title, "severity": v.rule.severity, "rationale": v.rule.rationale,
        "dataset": _ref(principal, v.dataset), "model": _ref(principal, v.model),
        "ai_system": _ref(principal, v.system)})


@router.post("/datasets/{dataset_id}/scans", response_model=schemas.ScanStarted, status_code=202)
def start_scan(session: SessionDep, settings: SettingsDep, principal: require(service.SCAN), dataset_id: int,
               body: schemas.ScanCreate) -> schemas.ScanStarted:
    """Queue a scan of the dataset's location (a local path inside the allowed directories) or, with
    ``file_id``, of an uploaded file. Follow the job at ``job_url``; the scan's results at
    ``/api/v1/sensitive/scans/{id}``."""
    scan, job = service.start_scan(session, principal, settings, dataset_id, body)
    return schemas.ScanStarted(scan=schemas.ScanSummary.model_validate(scan), job_id=job.id,
                               job_url=f"/api/v1/jobs/{job.id}")


@router.get("/datasets/{dataset_id}/scans", response_model=PageOut[schemas.ScanSummary])
def list_scans(session: SessionDep, principal: require(service.READ), dataset_id: int,
               page: PageQuery) -> dict[str, Any]:
    """Newest first; sort by created_at or status ('-' for descending)."""
    scans = service.list_scans(session, principal, dataset_id, page)
    shown = service.statuses(session, list(scans.items))
    result = page_out(scans, schemas.ScanSummary)
    return {**result, "items": [s.model_copy(update={"status": shown[s.id]}) for s in result["items"]]}


@router.get("/sensitive/scans/{scan_id}", response_model=schemas.ScanOut)
def get_scan(session: SessionDep, principal: require(service.READ), scan_id: int) -> schemas.ScanOut:
    """Totals, skipped files with reasons, and the findings with masked previews."""
    scan = service.get_scan(session, principal, scan_id)
    shown = service.statuses(session, [scan])[scan.id]
    return schemas.ScanOut.model_validate(scan).model_copy(update={"status": shown})


@router.get("/sensitive/violations", response_model=schemas.ViolationsOut)
def list_violations(session: SessionDep, principal: require(service.READ),
                    rule: Annotated[str | None, Query(max_length=64)] = None,
                    dataset_id: int | None = None, ai_system_id: int | None = None) -> schemas.ViolationsOut:
    """Violations whose dataset or AI system lies in the caller's units, most severe first; names of records
    outside them are null. Every rule is listed with its rationale."""
    found = [v for v in rules.all_violations(session, principal)
             if (rule is None or v.rule.id == rule) and (dataset_id is None or v.dataset.id == dataset_id)
             and (ai_system_id is None or (v.system is not None and v.system.id == ai_system_id))]
    return schemas.ViolationsOut(rules=[schemas.RuleOut.model_validate(r) for r in rules.RULES],
                                 items=[violation_out(principal, v) for v in found])


@router.get("/sensitive/entities", response_model=list[str])
def list_entities(principal: require(service.SCAN_TEXT)) -> list[str]:
    """The entity types the scanner recognises (for ``entities`` filters)."""
    return service.known_entities()


@router.post("/sensitive/scan-text", response_model=schemas.TextScanOut)
def scan_text(principal: require(service.SCAN_TEXT), body: schemas.TextScanIn) -> schemas.TextScanOut:
    """Body: ``text`` (one string) or ``texts`` (up to 1,000), optional ``entities``, ``min_score`` (0..1,
    default 0.5) and ``language``. Returns offsets (Python string indices), never the matched values."""
    return schemas.TextScanOut.build(service.scan_texts(body))
