"""Dataset scans: where a scan may read, starting one (a background job), reading scans and findings within the
caller's units, the text scan other services call, and scans as compliance evidence.

**Where scans read.** The server never reads a path a user merely typed. A scan reads the dataset's
``location_uri`` only when it is a local path or a ``file://`` URI that resolves (symbolic links followed) inside
``data_dir/datasets`` or one of the ``scan_roots`` directories; a relative path is taken inside
``data_dir/datasets``. Anything else (``s3://``, ``https://``, a path elsewhere) is refused with the reason.
Otherwise the user uploads a file (``POST /api/v1/files``) and scans that.

**Scoping.** Scans belong to their dataset: ``sensitive:read`` in the dataset's business unit to see them,
``sensitive:scan`` there to start one (a dataset outside the reader's units is answered 404, a readable one the
caller may not scan 403). Services flush and audit, never commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.compliance import evidence
from aicoe.config import Settings
from aicoe.core.errors import FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import isoformat
from aicoe.engines.sensitive.analyzer import DEFAULT_MIN_SCORE, default_analyzer
from aicoe.files import service as files_service
from aicoe.files.locations import BAD_PATH as BAD_PATH
from aicoe.files.locations import DATASETS_DIR as DATASETS_DIR
from aicoe.files.locations import MISSING_PATH as MISSING_PATH
from aicoe.files.locations import NOT_LOCAL as NOT_LOCAL
from aicoe.files.locations import OUTSIDE_ROOTS as OUTSIDE_ROOTS
from aicoe.files.locations import allowed_roots as allowed_roots
from aicoe.files.locations import resolve_location
from aicoe.jobs import service as jobs_service
from aicoe.jobs.records import shown_statuses
from aicoe.models.files import StoredFile
from aicoe.models.inventory import Dataset
from aicoe.models.jobs import Job
from aicoe.models.sensitive import SensitiveScan
from aicoe.sensitive import schemas

READ, SCAN, SCAN_TEXT = "sensitive:read", "sensitive:scan", "sensitive:scan_text"
JOB_KIND = "sensitive.scan_dataset"
SORT_COLUMNS: dict[str, Any] = {"created_at": SensitiveScan.created_at, "status": SensitiveScan.status}

NO_LOCATION = "the dataset has no location to scan; set its location or upload a file to scan"
NO_FILE = "No uploaded file {file_id}."
UNKNOWN_ENTITIES = "unknown entity type(s): {unknown}; known: {known}"
UNKNOWN_LANGUAGE = "unsupported language {language!r}; supported: {supported}"
NO_SCAN = "no scan {scan_id}"
NO_DATASET = "no dataset {dataset_id}"


# --- refusals (where scans may read: aicoe.files.locations, whose names stay importable from here) -----------

def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, message[0].upper() + message[1:] + ".")])


# --- entity types ----------------------------------------------------------------------------------------------

def known_entities() -> list[str]:
    return sorted(default_analyzer().entities)


def check_entities(entities: list[str] | None) -> list[str] | None:
    """The entity types, de-duplicated and in order; unknown ones are refused, naming the known ones."""
    if entities is None:
        return None
    known = known_entities()
    unknown = sorted(set(entities) - set(known))
    if unknown:
        raise _refuse("entities", UNKNOWN_ENTITIES.format(unknown=", ".join(unknown), known=", ".join(known)))
    return list(dict.fromkeys(entities))


# --- reading ---------------------------------------------------------------------------------------------------

def datasets_query(principal: Actor) -> Select[tuple[Dataset]]:
    return select(Dataset).where(in_scope(Dataset.business_unit_id, scope_of(principal, READ)))


def get_dataset(session: Session, principal: Actor, dataset_id: int) -> Dataset:
    dataset = session.scalar(datasets_query(principal).where(Dataset.id == dataset_id))
    if dataset is None:
        raise NotFound(NO_DATASET.format(dataset_id=dataset_id))
    return dataset


def scans_query(principal: Actor) -> Select[tuple[SensitiveScan]]:
    """Scans of datasets in the reader's units (the dataset's current unit decides)."""
    return (select(SensitiveScan).join(Dataset, Dataset.id == SensitiveScan.dataset_id)
            .where(in_scope(Dataset.business_unit_id, scope_of(principal, READ)))
            .options(selectinload(SensitiveScan.dataset)))


def get_scan(session: Session, principal: Actor, scan_id: int) -> SensitiveScan:
    scan = session.scalar(scans_query(principal).where(SensitiveScan.id == scan_id)
                          .options(selectinload(SensitiveScan.findings)))
    if scan is None:
        raise NotFound(NO_SCAN.format(scan_id=scan_id))
    return scan


def list_scans(session: Session, principal: Actor, dataset_id: int, params: PageParams) -> Page[SensitiveScan]:
    """A dataset's scans, newest first (sort by created_at or status, '-' for descending)."""
    get_dataset(session, principal, dataset_id)
    stmt = scans_query(principal).where(SensitiveScan.dataset_id == dataset_id)
    return paginate(session, apply_sort(stmt, params.sort, SORT_COLUMNS,
                                        [SensitiveScan.created_at.desc(), SensitiveScan.id.desc()]), params)


def recent_scans(session: Session, principal: Actor, limit: int = 20) -> list[SensitiveScan]:
    return list(session.scalars(scans_query(principal)
                                .order_by(SensitiveScan.created_at.desc(), SensitiveScan.id.desc()).limit(limit)))


def latest_scan(session: Session, dataset_id: int) -> SensitiveScan | None:
    """The dataset's newest scan (the caller has checked it may see the dataset)."""
    return session.scalar(select(SensitiveScan).where(SensitiveScan.dataset_id == dataset_id)
                          .order_by(SensitiveScan.created_at.desc(), SensitiveScan.id.desc()).limit(1))


def scanned_datasets(session: Session, principal: Actor) -> list[Dataset]:
    """Datasets in the reader's units that have been scanned, by name."""
    return list(session.scalars(datasets_query(principal).where(Dataset.last_scanned_at.is_not(None))
                                .order_by(Dataset.name)))


def statuses(session: Session, scans: list[SensitiveScan]) -> dict[int, str]:
    """Each status as shown (``aicoe.jobs.records.shown_statuses``)."""
    return shown_statuses(session, scans)


def file_name(session: Session, scan: SensitiveScan) -> str | None:
    """The uploaded file's name for a scan of an upload."""
    return session.scalar(select(StoredFile.filename).where(StoredFile.id == scan.file_id)) if scan.file_id else None


# --- starting a scan -------------------------------------------------------------------------------------------

def new_scan(session: Session, principal: Actor, settings: Settings, dataset_id: int,
             data: schemas.ScanCreate) -> SensitiveScan:
    """Record a queued scan of the dataset's location or of an upload (checked now, and again when it runs)."""
    dataset = get_dataset(session, principal, dataset_id)
    if principal is not None:
        principal.check_unit(SCAN, dataset.business_unit_id, hide=False)
    entities = check_entities(data.entities) or []
    if data.file_id is None:
        if not dataset.location_uri.strip():
            raise _refuse("file_id", NO_LOCATION)
        resolve_location(dataset.location_uri, settings)
        source, file_id = dataset.location_uri.strip(), None
    else:
        stored: StoredFile | None = session.get(StoredFile, data.file_id)
        if stored is not None and principal is not None:
            try:
                stored = files_service.get(session, principal, data.file_id)  # an upload the caller may read
            except NotFound:
                stored = None
        if stored is None:
            message = NO_FILE.format(file_id=data.file_id)
            raise ValidationFailed(message, errors=[FieldError("file_id", message)])
        source, file_id = f"file:{stored.id}", stored.id
    scan = SensitiveScan(dataset_id=dataset.id, business_unit_id=dataset.business_unit_id, source=source,
                         file_id=file_id, status="queued", mode=data.mode, sample_rows=data.sample_rows,
                         entities=entities, requested_by_id=principal.user.id if principal is not None else None)
    session.add(scan)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "sensitive_scan", scan.id, ledger.created(scan))
    return scan


def start_scan(session: Session, principal: Actor, settings: Settings, dataset_id: int,
               data: schemas.ScanCreate) -> tuple[SensitiveScan, Job]:
    """Queue a scan and the job that runs it; both become visible when the caller commits."""
    scan = new_scan(session, principal, settings, dataset_id, data)
    job = jobs_service.enqueue(session, principal if principal is not None else ledger.SYSTEM, JOB_KIND,
                               {"scan_id": scan.id}, max_attempts=2)
    scan.job_id = job.id
    session.flush()
    return scan, job


# --- the text scan ---------------------------------------------------------------------------------------------

def scan_texts(data: schemas.TextScanIn) -> list[list[dict[str, Any]]]:
    """Findings per text, as offsets and reasons: the caller cuts values from its own text if it needs them."""
    entities = check_entities(data.entities)
    languages = default_analyzer().languages
    if data.language not in languages:
        raise _refuse("language", UNKNOWN_LANGUAGE.format(language=data.language, supported=", ".join(languages)))
    min_score = DEFAULT_MIN_SCORE if data.min_score is None else data.min_score
    results = default_analyzer().scan_texts(data.all_texts, entities=entities, min_score=min_score,
                                            language=data.language)
    return [[f.as_dict() for f in found] for found in results]


# --- scans as evidence -----------------------------------------------------------------------------------------

SCAN_BY_NUMBER = "Scans are referenced by their number."
SCAN_MISSING = "Scan {ref!r} does not exist."


def scan_snapshot(session: Session, ref: str) -> dict[str, Any]:
    """What a scan found, for evidence: totals, counts and the findings' locations (never a value)."""
    if not ref.strip().isdigit():
        raise ValidationFailed(SCAN_BY_NUMBER, errors=[FieldError("record_ref", SCAN_BY_NUMBER)])
    scan = session.get(SensitiveScan, int(ref))
    if scan is None:
        message = SCAN_MISSING.format(ref=ref)
        raise NotFound(message[:-1], errors=[FieldError("record_ref", message)])
    found = sum(scan.entity_counts.values())
    return {"label": f"Sensitive-data scan {scan.id} of {scan.dataset.name}: {scan.status}, {found} occurrence(s)",
            "business_unit_id": scan.dataset.business_unit_id, "dataset_id": scan.dataset_id,
            "source": scan.source, "status": scan.status, "mode": scan.mode, "sample_rows": scan.sample_rows,
            "confidence": scan.confidence, "entities": scan.entities, "files_scanned": scan.files_scanned,
            "files_skipped": scan.files_skipped, "rows_scanned": scan.rows_scanned,
            "cells_scanned": scan.cells_scanned, "bytes_scanned": scan.bytes_scanned,
            "entity_counts": scan.entity_counts, "severity_counts": scan.severity_counts,
            "suggested_classification": scan.suggested_classification, "personal_data": scan.personal_data,
            "special_category_data": scan.special_category_data, "fingerprint": scan.fingerprint,
            "findings": [[f.entity, f.file, f.column, f.occurrences] for f in scan.findings],
            "finished_at": isoformat(scan.finished_at) if scan.finished_at else None}


evidence.register_record_type("scan", scan_snapshot)

