"""The ``sensitive.scan_dataset`` job: scan a dataset's files with the engine and record what was found.

Three steps, each database step its own short transaction (the runner's rule): mark the scan running and work
out what to read (the location is checked against the allowed directories again, since it may have changed;
an upload is copied under its own name into a private temporary directory so its format can be recognised);
scan without holding a transaction, reporting progress in bytes and stopping when cancellation is asked for;
then store the totals and one ``SensitiveFinding`` per (file, column, entity) and update the dataset.

**No raw value is kept.** The engine hands each sampled value (at most ten per finding) to ``preview``, which
masks it while it is in memory; only that preview, the location and counts reach the database, and nothing here
logs a value. A failure's message comes from our own checks or the engine's reasons, which never quote content.

**The dataset.** ``pii_entities`` becomes the entity counts of the latest scan (a scan limited to some entity
types replaces only those); ``personal_data`` and ``special_category_data`` are raised when the data shows them
and never lowered by a scan (a sample, or a scan for some types, cannot prove absence; people clear the flags);
``suggested_classification`` follows ``rules.suggest_classification`` over every entity type in the summary.
A rerun of the job (a retry) replaces the scan's findings, and a completed scan is not scanned again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.engines.sensitive.redact import Mask
from aicoe.engines.sensitive.scanner import CONFIDENCE, FindingGroup, ScanResult, scan_paths
from aicoe.files import service as files_service
from aicoe.files.locations import resolve_location
from aicoe.files.store import human_size
from aicoe.jobs.records import InlineContext, guarded, record_failure
from aicoe.jobs.registry import JobContext, PermanentJobError, job_handler
from aicoe.models.files import StoredFile
from aicoe.models.sensitive import SensitiveFinding, SensitiveScan
from aicoe.sensitive import rules
from aicoe.sensitive.service import JOB_KIND

MASK_KEEP = 4  # characters a preview keeps, and at most a third of the value's letters and digits
CANCEL_CHECK_S = 1.0
NO_SCAN = "scan {scan_id} does not exist"
UPLOAD_GONE = "the uploaded file {file_id} no longer exists"
ENGINE_FAILED = "the scan stopped: {error}"
CANCELLED = "cancelled while running"
GAVE_UP = "the scan failed on its last attempt; the job's error says why"


def preview(value: str) -> str:
    """The value masked, keeping at most its last four letters or digits (fewer for short values)."""
    keep = min(MASK_KEEP, sum(ch.isalnum() for ch in value) // 3)
    return Mask(keep_last=keep).apply(value, "")


@dataclass(frozen=True)
class Plan:
    """What to scan: ``path`` (a file or directory), paths in findings relative to ``root``."""

    scan_id: int
    path: Path
    root: Path
    entities: tuple[str, ...] | None
    sample: int | None


# --- step 1: begin ---------------------------------------------------------------------------------------------

def _begin(session: Session, settings: Settings, scan_id: int, workdir: Path) -> Plan | None:
    """Mark the scan running and plan it; None when it already completed (a rerun has nothing to do)."""
    scan = session.get(SensitiveScan, scan_id)
    if scan is None:
        raise PermanentJobError(NO_SCAN.format(scan_id=scan_id))
    if scan.status == "completed":
        return None
    scan.status, scan.started_at, scan.error = "running", utcnow(), ""
    session.flush()
    entities = tuple(scan.entities) or None
    sample = scan.sample_rows if scan.mode == "sample" else None
    if scan.file_id is None:
        path = resolve_location(scan.source, settings)
        return Plan(scan_id, path, path if path.is_dir() else path.parent, entities, sample)
    stored = session.get(StoredFile, scan.file_id)
    if stored is None:
        raise PermanentJobError(UPLOAD_GONE.format(file_id=scan.file_id))
    return Plan(scan_id, files_service.copy_out(settings, stored, workdir), workdir, entities, sample)


# --- step 2: scan ----------------------------------------------------------------------------------------------

def _scan(ctx: JobContext, plan: Plan) -> ScanResult:
    last_check = time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal last_check
        ctx.progress(done / total if total else 1.0, f"scanned {human_size(done)} of {human_size(total)}")
        if time.monotonic() - last_check >= CANCEL_CHECK_S:
            last_check = time.monotonic()
            ctx.check_cancelled()

    ctx.progress(0.0, "listing the files to scan")
    ctx.check_cancelled()
    return scan_paths([plan.path], entities=plan.entities, sample=plan.sample, seed=plan.scan_id,
                      max_file_bytes=ctx.settings.scan_max_file_bytes, on_sample=preview, progress=progress)


# --- step 3: record --------------------------------------------------------------------------------------------

def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def _column(group: FindingGroup) -> str | None:
    """The column, with its sheet for a workbook (``Sheet1!email``)."""
    if group.table is None:
        return group.column
    return f"{group.table}!{group.column}" if group.column is not None else group.table


def _record(session: Session, plan: Plan, result: ScanResult) -> dict[str, Any]:
    scan = session.get(SensitiveScan, plan.scan_id)
    assert scan is not None  # checked when the scan began; scans are deleted only with their dataset
    summary = result.summary
    scan.findings.clear()
    session.flush()
    for group in result.findings:
        scan.findings.append(SensitiveFinding(
            entity=group.entity, category=rules.category_of(group.entity, group.category) or group.category,
            severity=group.severity, file=_relative(group.path, plan.root), column=_column(group),
            occurrences=group.count, max_score=round(group.max_score, 4),
            samples=[{"row": s.row, "start": s.start, "end": s.end, "preview": s.preview} for s in group.samples]))
    categories = {rules.category_of(g.entity, g.category) for g in result.findings} - {None}
    scan.files_scanned = int(summary["files_scanned"]) + int(summary["files_partial"])
    scan.files_skipped = int(summary["files_skipped"])
    scan.skipped = [{"file": _relative(s["path"], plan.root), "status": s["status"], "reason": s["reason"]}
                    for s in summary["skipped"]]
    scan.rows_scanned, scan.cells_scanned = int(summary["rows"]), int(summary["cells"])
    scan.bytes_scanned = int(summary["bytes"])
    scan.entity_counts = dict(summary["by_entity"])
    scan.severity_counts = {k: v for k, v in summary["by_severity"].items() if v}
    scan.confidence = CONFIDENCE if plan.sample is not None else None
    scan.fingerprint = summary["fingerprint"]
    scan.personal_data = rules.holds_personal_data(categories)
    scan.special_category_data = rules.holds_special_category_data(categories)
    scan.suggested_classification = rules.suggest_classification(categories)[0]
    scan.status, scan.finished_at = "completed", utcnow()
    diff = ledger.changed(scan)
    session.flush()
    ledger.append(session, ledger.SYSTEM, "complete", "sensitive_scan", scan.id, diff)
    _update_dataset(session, scan, plan)
    return {"scan_id": scan.id, "status": scan.status, "files_scanned": scan.files_scanned,
            "files_skipped": scan.files_skipped, "occurrences": sum(scan.entity_counts.values()),
            "suggested_classification": scan.suggested_classification}


def _update_dataset(session: Session, scan: SensitiveScan, plan: Plan) -> None:
    dataset = scan.dataset
    kept = {e: n for e, n in (dataset.pii_entities or {}).items() if plan.entities and e not in plan.entities}
    dataset.pii_entities = dict(sorted({**kept, **scan.entity_counts}.items()))
    categories = rules.categories_found(dataset.pii_entities) | {f.category for f in scan.findings}
    if rules.holds_personal_data(categories):
        dataset.personal_data = True
    if rules.holds_special_category_data(categories):
        dataset.special_category_data = True
    dataset.suggested_classification = rules.suggest_classification(categories)[0]
    dataset.last_scanned_at = scan.finished_at
    diff = ledger.changed(dataset)
    session.flush()
    ledger.append(session, ledger.SYSTEM, "scan_result", "dataset", dataset.id,
                  {**diff, "sensitive_scan_id": [None, scan.id]})


# --- the handler -----------------------------------------------------------------------------------------------

@job_handler(JOB_KIND)
def scan_dataset_job(ctx: JobContext) -> dict[str, Any]:
    """Payload ``{"scan_id": N}``; returns the scan's headline numbers."""
    scan_id = int(ctx.payload["scan_id"])

    def work() -> dict[str, Any]:
        with files_service.private_workdir(ctx.settings, "scan-") as workdir:
            with ctx.session(write=True) as session:
                plan = _begin(session, ctx.settings, scan_id, workdir)
            if plan is None:
                return {"scan_id": scan_id, "status": "completed"}
            result = _scan(ctx, plan)
        with ctx.session(write=True) as session:
            return _record(session, plan, result)

    fail = partial(record_failure, ctx, SensitiveScan, "sensitive_scan", scan_id)
    return guarded(ctx, work, fail, cancelled=CANCELLED, failed=ENGINE_FAILED, gave_up=GAVE_UP)


def run_now(session: Session, settings: Settings, scan_id: int) -> dict[str, Any]:
    """Run the scan job in the caller's transaction (the caller commits)."""
    return scan_dataset_job(InlineContext(session, settings, JOB_KIND, {"scan_id": scan_id}))
