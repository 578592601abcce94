"""Evidence: files (content-addressed by SHA-256), links and references to platform records; dated, expiring,
versioned, signed off by a reviewer, and linked to assessment results, control implementations and risks.

Every piece of evidence belongs to a business unit: ``compliance:read`` there to see it (and download its file),
``compliance:write`` to add it or a new version, ``evidence:review`` to accept or reject it, never by whoever
uploaded it (four eyes). A new version joins its series (``series_id`` = the first version's id) and becomes the
latest; links attach to the series, so a link always shows the latest version. The effective date (when the
evidence speaks for) is separate from the upload date (``created_at``) and may lie in the future; an expiry date
must come after it. Services flush and audit, never commit.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.compliance import controls
from aicoe.compliance.constants import (
    EVIDENCE_KINDS,
    EVIDENCE_RECORD_TYPES,
    EVIDENCE_TYPES,
    REVIEW_STATUSES,
    RISK_TIERS,
)
from aicoe.config import Settings
from aicoe.core.errors import Conflict, FieldError, NotFound, PayloadTooLarge, ValidationFailed
from aicoe.core.filters import choice, like_pattern
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import isoformat, utcnow
from aicoe.files import service as files_service
from aicoe.models.audit import AuditEvent
from aicoe.models.compliance import (
    Assessment,
    Classification,
    ControlImplementation,
    Evidence,
    EvidenceLink,
    RequirementResult,
)
from aicoe.models.files import StoredFile
from aicoe.models.org import BusinessUnit
from aicoe.models.policy import Attestation, PolicyVersion
from aicoe.models.reviews import ReviewRequest
from aicoe.models.risk import Risk

READ, WRITE, REVIEW = "compliance:read", "compliance:write", "evidence:review"
TARGET_TYPES: dict[str, str] = {"requirement_result": "Assessment result",
                                "control_implementation": "Control implementation", "risk": "Risk"}
EXPIRY_FILTERS: dict[str, str] = {"expired": "Expired", "expiring": "Expiring soon", "valid": "Not expiring soon"}
SORT_COLUMNS: dict[str, Any] = {"title": func.lower(Evidence.title), "effective_date": Evidence.effective_date,
                                "expires_on": Evidence.expires_on, "created_at": Evidence.created_at}
URL_SCHEMES = frozenset({"http", "https"})


def sha256_of(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (sorted keys, no spaces; the audit ledger's encoding)."""
    return hashlib.sha256(ledger.canonical_json(value).encode()).hexdigest()


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, message)])


# --- platform records ------------------------------------------------------------------------------------------
# A resolver turns a reference typed by a user into a JSON snapshot of the record: the evidence's sha256 is the
# hash of that snapshot, so a later change to the record shows. Snapshots carry "label" (a readable title) and,
# for records that belong to a business unit, "business_unit_id" (the caller must be able to read that unit).
# The evaluation, sensitive-data and gateway areas add "evaluation_run", "scan" and "gateway_statistic" with
# ``register_record_type`` when they arrive.

RecordResolver = Callable[[Session, str], dict[str, Any]]


def _missing(record_type: str, ref: str) -> NotFound:
    message = f"{record_label(record_type)} {ref!r} does not exist."
    return NotFound(message[:-1], errors=[FieldError("record_ref", message)])


def _number(record_type: str, ref: str) -> int:
    if not ref.strip().isdigit():
        raise _refuse("record_ref", f"{record_label(record_type)}s are referenced by their number.")
    return int(ref)


def _classification(session: Session, ref: str) -> dict[str, Any]:
    row = session.get(Classification, _number("classification", ref))
    if row is None:
        raise _missing("classification", ref)
    return {"label": f"EU AI Act classification of {row.ai_system.name}, version {row.version}: "
                     f"{RISK_TIERS.get(row.tier, row.tier)}",
            "business_unit_id": row.ai_system.business_unit_id, "ai_system_id": row.ai_system_id,
            "version": row.version, "tier": row.tier, "gpai": row.gpai,
            "questionnaire_version": row.questionnaire_version, "answers": row.answers,
            "obligations": row.obligations, "created_at": isoformat(row.created_at)}


def _assessment(session: Session, ref: str) -> dict[str, Any]:
    row = session.get(Assessment, _number("assessment", ref))
    if row is None:
        raise _missing("assessment", ref)
    return {"label": f"Assessment {row.title} ({row.framework.key} {row.framework.version}): "
                     f"{round(row.completion * 100)}% complete",
            "business_unit_id": row.ai_system.business_unit_id, "ai_system_id": row.ai_system_id,
            "framework": f"{row.framework.key} {row.framework.version}", "status": row.status,
            "completion": row.completion, "compliance": row.compliance,
            "results": [[r.requirement_id, r.applicable, r.status] for r in row.results]}


def _review(session: Session, ref: str) -> dict[str, Any]:
    row = session.scalar(select(ReviewRequest).where(ReviewRequest.key == ref.strip().upper()))
    if row is None:
        raise _missing("review", ref)
    return {"label": f"{row.key} {row.title}: {row.status}", "business_unit_id": row.business_unit_id,
            "key": row.key, "board": row.board, "subject_type": row.subject_type, "subject_id": row.subject_id,
            "status": row.status, "conditions": row.conditions,
            "decided_at": isoformat(row.decided_at) if row.decided_at else None,
            "decisions": [[d.user_id, d.decision, d.conditions, isoformat(d.created_at)] for d in row.decisions]}


def _attestation(session: Session, ref: str) -> dict[str, Any]:
    row = session.get(Attestation, _number("attestation", ref))
    if row is None:
        raise _missing("attestation", ref)
    version: PolicyVersion = row.policy_version
    return {"label": f"Attestation of {version.policy.key} version {version.version} by {row.user.full_name}: "
                     f"{row.status}",
            "policy": version.policy.key, "version": version.version, "user_id": row.user_id, "status": row.status,
            "attested_at": isoformat(row.attested_at) if row.attested_at else None}


def _audit_event(session: Session, ref: str) -> dict[str, Any]:
    row = session.get(AuditEvent, _number("audit_event", ref))
    if row is None:
        raise _missing("audit_event", ref)
    return {"label": f"Audit event {row.seq}: {row.action} {row.entity_type} {row.entity_id}", "seq": row.seq,
            "ts": isoformat(row.ts), "action": row.action, "entity_type": row.entity_type,
            "entity_id": row.entity_id, "hash": row.hash}


RECORD_RESOLVERS: dict[str, RecordResolver] = {
    "classification": _classification, "assessment": _assessment, "review": _review,
    "attestation": _attestation, "audit_event": _audit_event,
}


def register_record_type(record_type: str, resolver: RecordResolver) -> None:
    """Let another area's records be referenced as evidence (at most 24 characters, e.g. "evaluation_run")."""
    if not record_type or len(record_type) > 24:
        raise ValueError(f"record type must be 1-24 characters, got {record_type!r}")
    RECORD_RESOLVERS[record_type] = resolver


def record_label(record_type: str) -> str:
    return EVIDENCE_RECORD_TYPES.get(record_type, record_type.replace("_", " ").capitalize())


def resolve_record(session: Session, principal: Actor, record_type: str, record_ref: str) -> dict[str, Any]:
    """The record's snapshot; a record in a unit the caller cannot read is answered as missing."""
    resolver = RECORD_RESOLVERS.get(record_type)
    if resolver is None:
        raise _refuse("record_type", f"Unknown record type {record_type!r}; allowed: "
                                     f"{', '.join(sorted(RECORD_RESOLVERS))}.")
    ref = record_ref.strip()
    if not ref:
        raise _refuse("record_ref", "This field is required.")
    snapshot = resolver(session, ref)
    unit_id = snapshot.get("business_unit_id")
    if principal is not None and unit_id is not None and not principal.may(READ, unit_id):
        raise _missing(record_type, ref)
    return snapshot


def record_state(session: Session, evidence: Evidence) -> str:
    """Whether a referenced record still matches its captured hash: "unchanged", "changed" or "missing"."""
    resolver = RECORD_RESOLVERS.get(evidence.record_type or "")
    if resolver is None:
        return "missing"
    try:
        snapshot = resolver(session, evidence.record_ref)
    except (NotFound, ValidationFailed):
        return "missing"
    return "unchanged" if sha256_of(snapshot) == evidence.sha256 else "changed"


# --- reading ---------------------------------------------------------------------------------------------------

def evidence_query(principal: Actor, permission: str = READ) -> Select[tuple[Evidence]]:
    return select(Evidence).where(in_scope(Evidence.business_unit_id, scope_of(principal, permission)))


def _details(stmt: Select[Any]) -> Select[Any]:
    return stmt.options(selectinload(Evidence.business_unit), selectinload(Evidence.file),
                        selectinload(Evidence.reviewer), selectinload(Evidence.uploaded_by))


def series_root(evidence: Evidence) -> int:
    return evidence.series_id or evidence.id


def _in_series(root_id: int) -> ColumnElement[bool]:
    return or_(Evidence.id == root_id, Evidence.series_id == root_id)


def expiry_state(evidence: Evidence, today: date, within_days: int) -> str | None:
    """"expired", "expiring" (within ``within_days``) or None."""
    if evidence.expires_on is None:
        return None
    if evidence.expires_on < today:
        return "expired"
    return "expiring" if evidence.expires_on <= today + timedelta(days=within_days) else None


def list_evidence(session: Session, principal: Actor, params: PageParams, *, kind: str | None = None,
                  evidence_type: str | None = None, review_status: str | None = None, expiry: str | None = None,
                  within_days: int = 30, business_unit_id: int | None = None, q: str | None = None,
                  all_versions: bool = False, today: date | None = None) -> Page[Evidence]:
    """Latest versions unless ``all_versions``. ``expiry``: expired, expiring (within ``within_days``) or valid
    (no expiry, or later than that). Sort by title, effective_date, expires_on or created_at (default: newest)."""
    today = today or date.today()
    stmt = _details(evidence_query(principal))
    if not all_versions:
        stmt = stmt.where(Evidence.is_latest.is_(True))
    if choice("kind", kind, EVIDENCE_KINDS):
        stmt = stmt.where(Evidence.kind == kind)
    if choice("evidence_type", evidence_type, EVIDENCE_TYPES):
        stmt = stmt.where(Evidence.evidence_type == evidence_type)
    if choice("review_status", review_status, REVIEW_STATUSES):
        stmt = stmt.where(Evidence.review_status == review_status)
    horizon = today + timedelta(days=within_days)
    if choice("expiry", expiry, EXPIRY_FILTERS) == "expired":
        stmt = stmt.where(Evidence.expires_on < today)
    elif expiry == "expiring":
        stmt = stmt.where(Evidence.expires_on >= today, Evidence.expires_on <= horizon)
    elif expiry == "valid":
        stmt = stmt.where(or_(Evidence.expires_on.is_(None), Evidence.expires_on > horizon))
    if business_unit_id is not None:
        stmt = stmt.where(Evidence.business_unit_id == business_unit_id)
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(Evidence.title).like(pattern, escape="\\"),
                              func.lower(Evidence.description).like(pattern, escape="\\"),
                              func.lower(Evidence.url).like(pattern, escape="\\")))
    return paginate(session, apply_sort(stmt, params.sort or "-created_at", SORT_COLUMNS, [Evidence.id.desc()]),
                    params)


def get_evidence(session: Session, principal: Actor, evidence_id: int) -> Evidence:
    evidence = session.scalar(_details(evidence_query(principal)).where(Evidence.id == evidence_id))
    if evidence is None:
        raise NotFound(f"no evidence {evidence_id}")
    return evidence


def versions(session: Session, principal: Actor, evidence_id: int) -> list[Evidence]:
    """Every version of the evidence's series, newest first."""
    evidence = get_evidence(session, principal, evidence_id)
    return list(session.scalars(_details(select(Evidence)).where(_in_series(series_root(evidence)))
                                .order_by(Evidence.version.desc())))


def latest_of(session: Session, evidence: Evidence) -> Evidence:
    if evidence.is_latest:
        return evidence
    return session.scalars(select(Evidence).where(_in_series(series_root(evidence)), Evidence.is_latest)).one()


def expiring(session: Session, principal: Actor, within_days: int, *, today: date | None = None) -> list[Evidence]:
    """Latest versions that expire today or within ``within_days``, soonest first."""
    today = today or date.today()
    return list(session.scalars(_details(evidence_query(principal)).where(
        Evidence.is_latest.is_(True), Evidence.expires_on >= today,
        Evidence.expires_on <= today + timedelta(days=within_days)).order_by(Evidence.expires_on, Evidence.id)))


def expired(session: Session, principal: Actor, *, today: date | None = None) -> list[Evidence]:
    """Latest versions already past their expiry date, longest expired first."""
    today = today or date.today()
    return list(session.scalars(_details(evidence_query(principal)).where(
        Evidence.is_latest.is_(True), Evidence.expires_on < today).order_by(Evidence.expires_on, Evidence.id)))


def counts(session: Session, principal: Actor, within_days: int, *, today: date | None = None) -> dict[str, int]:
    """Latest versions in the caller's units: total, expired, expiring soon and awaiting review."""
    today = today or date.today()
    base = evidence_query(principal).where(Evidence.is_latest.is_(True)).subquery()
    row = session.execute(select(
        func.count(),
        func.count().filter(base.c.expires_on < today),
        func.count().filter(and_(base.c.expires_on >= today,
                                 base.c.expires_on <= today + timedelta(days=within_days))),
        func.count().filter(base.c.review_status == "pending"))).one()
    return dict(zip(("total", "expired", "expiring", "pending"), row, strict=True))


# --- adding ----------------------------------------------------------------------------------------------------

def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname or any(c.isspace() for c in url):
        raise _refuse("url", "Must be an http:// or https:// address, e.g. https://wiki.example/model-validation.")
    if len(url) > 2000:
        raise _refuse("url", "Must be at most 2000 characters.")
    return url


def _check_meta(session: Session, principal: Actor, *, title: str, business_unit_id: int, effective_date: date,
                expires_on: date | None, evidence_type: str | None) -> None:
    """Every problem at once; then whether the caller may add evidence to that unit (403 when not)."""
    errors: list[FieldError] = []
    if not title.strip():
        errors.append(FieldError("title", "This field is required."))
    elif len(title.strip()) > 200:
        errors.append(FieldError("title", "Must be at most 200 characters."))
    if evidence_type and evidence_type not in EVIDENCE_TYPES:
        errors.append(FieldError("evidence_type", f"Unknown value {evidence_type!r}; allowed: "
                                                  f"{', '.join(EVIDENCE_TYPES)}."))
    if session.get(BusinessUnit, business_unit_id) is None:
        errors.append(FieldError("business_unit_id", f"No business unit {business_unit_id}."))
    if expires_on is not None and expires_on <= effective_date:
        errors.append(FieldError("expires_on", f"Must be after the effective date ({effective_date.isoformat()})."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    if principal is not None:
        principal.check_unit(WRITE, business_unit_id, hide=False)


def _store(session: Session, principal: Actor, settings: Settings, stream: BinaryIO, filename: str | None,
           content_type: str | None) -> StoredFile:
    """The file saved content-addressed within the evidence size limit; a refused file leaves no row behind."""
    try:
        return files_service.save(session, principal if principal is not None else ledger.SYSTEM,
                                  files_service.store_for(settings), stream, filename=filename,
                                  declared_type=content_type, max_bytes=settings.evidence_max_bytes)
    except PayloadTooLarge as exc:
        raise PayloadTooLarge(exc.detail, errors=[FieldError("file", exc.detail[:1].upper() + exc.detail[1:] + ".")],
                              limit_bytes=settings.evidence_max_bytes) from None


def _record(session: Session, principal: Actor, action: str, evidence: Evidence,
            extra: dict[str, Any] | None = None) -> Evidence:
    session.add(evidence)
    session.flush()
    ledger.append(session, audit_actor(principal), action, "evidence", evidence.id,
                  {**ledger.created(evidence), **(extra or {})})
    return evidence


def _uploader(principal: Actor) -> int | None:
    return principal.user.id if principal is not None else None


def add_file(session: Session, principal: Actor, settings: Settings, stream: BinaryIO, filename: str | None,
             content_type: str | None, *, title: str, business_unit_id: int, effective_date: date,
             expires_on: date | None = None, evidence_type: str | None = None, description: str = "") -> Evidence:
    """Store a file as evidence; an empty title takes the file's name. Over ``evidence_max_bytes`` (413) or of a
    refused type (415): nothing is recorded."""
    title = title.strip() or files_service.clean_filename(filename)
    _check_meta(session, principal, title=title, business_unit_id=business_unit_id, effective_date=effective_date,
                expires_on=expires_on, evidence_type=evidence_type)
    stored = _store(session, principal, settings, stream, filename, content_type)
    return _record(session, principal, "create", Evidence(
        kind="file", title=title, description=description.strip(), evidence_type=evidence_type or None,
        business_unit_id=business_unit_id, file_id=stored.id, sha256=stored.sha256, size=stored.size,
        effective_date=effective_date, expires_on=expires_on, uploaded_by_id=_uploader(principal)))


def link_sha256(url: str, title: str, effective_date: date) -> str:
    return sha256_of({"url": url, "title": title, "effective_date": effective_date.isoformat()})


def add_link(session: Session, principal: Actor, *, url: str, title: str, business_unit_id: int,
             effective_date: date, expires_on: date | None = None, evidence_type: str | None = None,
             description: str = "") -> Evidence:
    """A web page or document held elsewhere (http/https only); its hash covers the URL, title and date."""
    url = check_url(url)
    title = title.strip()
    _check_meta(session, principal, title=title, business_unit_id=business_unit_id, effective_date=effective_date,
                expires_on=expires_on, evidence_type=evidence_type)
    return _record(session, principal, "create", Evidence(
        kind="link", title=title, description=description.strip(), evidence_type=evidence_type or None,
        business_unit_id=business_unit_id, url=url, sha256=link_sha256(url, title, effective_date),
        effective_date=effective_date, expires_on=expires_on, uploaded_by_id=_uploader(principal)))


def add_record(session: Session, principal: Actor, *, record_type: str, record_ref: str, business_unit_id: int,
               effective_date: date, title: str = "", expires_on: date | None = None,
               evidence_type: str | None = None, description: str = "") -> Evidence:
    """A reference to a platform record, hashed as captured now; an empty title takes the record's label."""
    snapshot = resolve_record(session, principal, record_type, record_ref)
    title = title.strip() or str(snapshot.get("label", ""))[:200]
    _check_meta(session, principal, title=title, business_unit_id=business_unit_id, effective_date=effective_date,
                expires_on=expires_on, evidence_type=evidence_type)
    return _record(session, principal, "create", Evidence(
        kind="record", title=title, description=description.strip(), evidence_type=evidence_type or None,
        business_unit_id=business_unit_id, record_type=record_type, record_ref=record_ref.strip(),
        sha256=sha256_of(snapshot), effective_date=effective_date, expires_on=expires_on,
        uploaded_by_id=_uploader(principal)))


def new_version(session: Session, principal: Actor, settings: Settings, evidence_id: int, *, effective_date: date,
                expires_on: date | None = None, title: str = "", description: str | None = None,
                stream: BinaryIO | None = None, filename: str | None = None, content_type: str | None = None,
                url: str = "", record_ref: str = "") -> Evidence:
    """Add the next version of the evidence's series, of the same kind: a file (``stream``), a link (``url``) or
    a record (``record_ref``; empty: capture the same record again). It becomes the latest version, awaiting
    review; title, description (when not given), type and unit carry over."""
    current = latest_of(session, get_evidence(session, principal, evidence_id))
    title = title.strip() or current.title
    content_for = {"file": stream is not None, "link": bool(url.strip()), "record": bool(record_ref.strip())}
    wrong = [kind for kind, given in content_for.items() if given and kind != current.kind]
    if wrong:
        raise _refuse({"file": "file", "link": "url", "record": "record_ref"}[wrong[0]],
                      f"This evidence is a {EVIDENCE_KINDS[current.kind].lower()}: its new version must be one too.")
    _check_meta(session, principal, title=title, business_unit_id=current.business_unit_id,
                effective_date=effective_date, expires_on=expires_on, evidence_type=current.evidence_type)
    fields: dict[str, Any] = {}
    if current.kind == "file":
        if stream is None:
            raise _refuse("file", "Choose the file of the new version.")
        stored = _store(session, principal, settings, stream, filename, content_type)
        fields = {"file_id": stored.id, "sha256": stored.sha256, "size": stored.size}
    elif current.kind == "link":
        if not url.strip():
            raise _refuse("url", "This field is required.")
        checked = check_url(url)
        fields = {"url": checked, "sha256": link_sha256(checked, title, effective_date)}
    else:
        ref = record_ref.strip() or current.record_ref
        fields = {"record_type": current.record_type, "record_ref": ref,
                  "sha256": sha256_of(resolve_record(session, principal, current.record_type or "", ref))}
    current.is_latest = False
    session.flush()
    root = series_root(current)
    return _record(session, principal, "new_version", Evidence(
        series_id=root, version=current.version + 1, kind=current.kind, title=title,
        description=current.description if description is None else description.strip(),
        evidence_type=current.evidence_type, business_unit_id=current.business_unit_id,
        effective_date=effective_date, expires_on=expires_on, uploaded_by_id=_uploader(principal), **fields),
        {"previous_id": [None, current.id]})


# --- review ----------------------------------------------------------------------------------------------------

def review(session: Session, principal: Actor, evidence_id: int, decision: str, note: str = "") -> Evidence:
    """Accept or reject the latest version. Needs ``evidence:review`` in the evidence's unit; whoever uploaded
    the evidence cannot sign it off; a rejection says why."""
    evidence = get_evidence(session, principal, evidence_id)
    if principal is not None:
        principal.check_unit(REVIEW, evidence.business_unit_id, hide=False)
    if decision not in ("accepted", "rejected"):
        raise _refuse("decision", f"Unknown decision {decision!r}; allowed: accepted, rejected.")
    if not evidence.is_latest:
        raise Conflict(f"version {evidence.version} has been superseded; review the latest version instead")
    note = note.strip()
    if decision == "rejected" and not note:
        raise _refuse("note", "Say why the evidence is rejected.")
    if principal is not None and evidence.uploaded_by_id == principal.user.id:
        raise _refuse("decision", "You added this evidence: another reviewer must sign it off (four-eyes rule).")
    evidence.review_status = decision
    evidence.review_note = note
    evidence.reviewer_id = _uploader(principal)
    evidence.reviewed_at = utcnow()
    ledger.append(session, audit_actor(principal), "review", "evidence", evidence.id, ledger.changed(evidence))
    session.expire(evidence, ["reviewer"])  # load the person reviewer_id now names
    return evidence


# --- links to assessment results, control implementations and risks ------------------------------------------

@dataclass(frozen=True)
class Target:
    type: str
    id: int
    label: str
    url: str
    business_unit_id: int | None
    permission: str  # needed in that unit to link or unlink evidence


def _result_targets(session: Session, ids: list[int]) -> list[Target]:
    rows = session.scalars(select(RequirementResult).where(RequirementResult.id.in_(ids)).options(
        selectinload(RequirementResult.requirement), selectinload(RequirementResult.assessment)
        .selectinload(Assessment.ai_system), selectinload(RequirementResult.assessment)
        .selectinload(Assessment.framework)))
    return [Target("requirement_result", r.id,
                   f"{r.assessment.framework.key} {r.requirement.ref} in {r.assessment.title}",
                   f"/assessments/{r.assessment_id}", r.assessment.ai_system.business_unit_id, WRITE) for r in rows]


def _implementation_targets(session: Session, ids: list[int]) -> list[Target]:
    rows = list(session.scalars(select(ControlImplementation).where(ControlImplementation.id.in_(ids))
                                .options(selectinload(ControlImplementation.control))))
    labels = controls.subject_labels(session, rows)
    return [Target("control_implementation", i.id,
                   f"{i.control.code} on {labels[(i.subject_type, i.subject_id)]}", f"/controls/{i.control_id}",
                   i.business_unit_id, WRITE) for i in rows]


def _risk_targets(session: Session, ids: list[int]) -> list[Target]:
    return [Target("risk", r.id, f"{r.key} {r.title}", f"/risks/{r.key}", r.business_unit_id, "risk:write")
            for r in session.scalars(select(Risk).where(Risk.id.in_(ids)))]


TARGET_LOADERS: dict[str, Callable[[Session, list[int]], list[Target]]] = {
    "requirement_result": _result_targets, "control_implementation": _implementation_targets,
    "risk": _risk_targets,
}


def targets(session: Session, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Target]:
    grouped: dict[str, set[int]] = defaultdict(set)
    for target_type, target_id in wanted:
        grouped[target_type].add(target_id)
    return {(t.type, t.id): t for target_type, ids in grouped.items()
            for t in TARGET_LOADERS[target_type](session, sorted(ids))}


def may_change(principal: Actor, target: Target) -> bool:
    if principal is None:
        return True
    if not principal.has(target.permission):
        return False
    scope = principal.scope(target.permission)
    return scope is None or (target.business_unit_id is not None and target.business_unit_id in scope)


def resolve_target(session: Session, principal: Actor, target_type: str, target_id: int) -> Target:
    """The target, if the caller may change it (one outside their units is answered as missing)."""
    choice("target_type", target_type, TARGET_TYPES)
    found = targets(session, [(target_type, target_id)]).get((target_type, target_id))
    if found is None or not may_change(principal, found):
        what = TARGET_TYPES[target_type].lower()
        raise NotFound(f"no {what} {target_id}", errors=[FieldError("target_id", f"No {what} {target_id}.")])
    return found


def link(session: Session, principal: Actor, evidence_id: int, target_type: str, target_id: int) -> EvidenceLink:
    """Attach the evidence's series to a requirement result, a control implementation or a risk; idempotent.
    Needs write access to the target's unit (``compliance:write``; ``risk:write`` for a risk)."""
    evidence = get_evidence(session, principal, evidence_id)
    target = resolve_target(session, principal, target_type, target_id)
    root = series_root(evidence)
    existing = session.scalar(select(EvidenceLink).where(EvidenceLink.evidence_id == root,
                                                         EvidenceLink.target_type == target_type,
                                                         EvidenceLink.target_id == target_id))
    if existing is not None:
        return existing
    row = EvidenceLink(evidence_id=root, target_type=target_type, target_id=target_id,
                       created_by_id=_uploader(principal))
    session.add(row)
    session.flush()
    ledger.append(session, audit_actor(principal), "link", "evidence", root, {
        "link_id": [None, row.id], "target": [None, f"{target_type} {target_id}"],
        "target_label": [None, target.label]})
    return row


def unlink(session: Session, principal: Actor, evidence_id: int, link_id: int) -> None:
    evidence = get_evidence(session, principal, evidence_id)
    row = session.get(EvidenceLink, link_id)
    if row is None or row.evidence_id != series_root(evidence):
        raise NotFound(f"evidence {evidence_id} has no link {link_id}")
    target = targets(session, [(row.target_type, row.target_id)]).get((row.target_type, row.target_id))
    if target is not None:
        resolve_target(session, principal, row.target_type, row.target_id)
    elif principal is not None:  # the target is gone: whoever may change the evidence may tidy up
        principal.check_unit(WRITE, evidence.business_unit_id)
    session.delete(row)
    ledger.append(session, audit_actor(principal), "unlink", "evidence", row.evidence_id, {
        "link_id": [link_id, None], "target": [f"{row.target_type} {row.target_id}", None]})


def links_of(session: Session, evidence: Evidence) -> list[tuple[EvidenceLink, Target | None]]:
    """The series' links with their targets (None for a target that no longer exists)."""
    rows = list(session.scalars(select(EvidenceLink).where(EvidenceLink.evidence_id == series_root(evidence))
                                .order_by(EvidenceLink.target_type, EvidenceLink.id)))
    found = targets(session, [(r.target_type, r.target_id) for r in rows])
    return [(r, found.get((r.target_type, r.target_id))) for r in rows]


def linked(session: Session, target_type: str, target_ids: Iterable[int]) -> dict[int, list[Evidence]]:
    """The latest version of every evidence series linked to each target, by title; for pages that already
    checked the reader may see the targets."""
    wanted = sorted(set(target_ids))
    out: dict[int, list[Evidence]] = defaultdict(list)
    if not wanted:
        return out
    rows = session.execute(
        select(EvidenceLink.target_id, Evidence)
        .join(Evidence, or_(Evidence.id == EvidenceLink.evidence_id, Evidence.series_id == EvidenceLink.evidence_id))
        .where(EvidenceLink.target_type == target_type, EvidenceLink.target_id.in_(wanted),
               Evidence.is_latest.is_(True))
        .order_by(func.lower(Evidence.title), Evidence.id))
    for target_id, evidence in rows:
        out[target_id].append(evidence)
    return out


def file_for_download(session: Session, principal: Actor, evidence_id: int) -> StoredFile:
    """The stored file of a file evidence the caller may read (404 otherwise, and for links and records)."""
    evidence = get_evidence(session, principal, evidence_id)
    if evidence.kind != "file" or evidence.file is None:
        raise NotFound(f"evidence {evidence_id} is a {EVIDENCE_KINDS.get(evidence.kind, evidence.kind).lower()}, "
                       "not a file")
    return evidence.file
