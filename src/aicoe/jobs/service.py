"""Enqueue, read and cancel jobs. Services flush, never commit; the caller owns the transaction.

A caller with CoE-wide ``job:read`` sees every job; one whose grant is limited to business units sees the jobs
they started (jobs belong to no unit, and their payloads may concern any).
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Principal
from aicoe.core.db import begin_write
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import utcnow
from aicoe.models.jobs import Job

MAX_ATTEMPTS_LIMIT = 100


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
JOB_SORT = {"id": Job.id, "created_at": Job.created_at, "kind": Job.kind, "status": Job.status,
            "finished_at": Job.finished_at}

Actor = Principal | ledger.AuditActor


def _audit_actor(actor: Actor) -> ledger.AuditActor:
    return actor.audit_actor if isinstance(actor, Principal) else actor


def enqueue(session: Session, actor: Actor, kind: str, payload: dict[str, Any] | None = None, *,
            max_attempts: int = 3, run_after: datetime | None = None) -> Job:
    """Queue a job for the runners; it becomes visible to them when the caller commits."""
    errors = []
    if not isinstance(kind, str) or not 1 <= len(kind) <= 64:
        errors.append(FieldError("kind", f"must be 1-64 characters, got {kind!r}"))
    payload = {} if payload is None else payload
    if not isinstance(payload, dict):
        errors.append(FieldError("payload", f"must be a JSON object, got {type(payload).__name__}"))
    else:
        try:
            json.dumps(payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            errors.append(FieldError("payload", f"must be JSON-encodable: {exc}"))
    if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
        errors.append(FieldError("max_attempts", f"must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {max_attempts}"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    begin_write(session)
    job = Job(kind=kind, payload=payload, max_attempts=max_attempts, status=JobStatus.QUEUED.value,
              run_after=run_after or utcnow(),
              created_by_id=actor.user.id if isinstance(actor, Principal) else None)
    session.add(job)
    session.flush()
    ledger.append(session, _audit_actor(actor), "enqueue", "job", job.id, ledger.created(job))
    return job


def jobs_query(principal: Principal, permission: str = "job:read") -> Select[tuple[Job]]:
    stmt = select(Job)
    if principal.scope(permission) is not None:
        stmt = stmt.where(Job.created_by_id == principal.user.id)
    return stmt


def get(session: Session, principal: Principal, job_id: int) -> Job:
    job = session.scalar(jobs_query(principal).where(Job.id == job_id))
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def list_jobs(session: Session, principal: Principal, params: PageParams, *, status: str | None = None,
              kind: str | None = None) -> Page[Job]:
    stmt = jobs_query(principal)
    if status:
        try:
            stmt = stmt.where(Job.status == JobStatus(status).value)
        except ValueError:
            allowed = ", ".join(s.value for s in JobStatus)
            raise ValidationFailed(f"unknown job status {status!r}",
                                   errors=[FieldError("status", f"unknown status {status!r}; allowed: {allowed}")]
                                   ) from None
    if kind:
        stmt = stmt.where(Job.kind == kind)
    return paginate(session, apply_sort(stmt, params.sort, JOB_SORT, [Job.id.desc()]), params)


def cancel(session: Session, actor: Actor, job_id: int) -> Job:
    """Cancel a queued job at once; ask a running one to stop at its next check. Finished jobs refuse."""
    begin_write(session)
    stmt = jobs_query(actor, "job:write") if isinstance(actor, Principal) else select(Job)
    job = session.scalar(stmt.where(Job.id == job_id).with_for_update())
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.status == JobStatus.QUEUED:
        job.status = JobStatus.CANCELLED.value
        job.finished_at = utcnow()
        job.message = "cancelled before it started"
        action = "cancel"
    elif job.status == JobStatus.RUNNING:
        if job.cancel_requested:
            return job
        job.cancel_requested = True
        action = "request_cancel"
    else:
        raise Conflict(f"job {job_id} is already {job.status}; only queued or running jobs can be cancelled")
    diff = ledger.changed(job)
    session.flush()
    ledger.append(session, _audit_actor(actor), action, "job", job.id, diff)
    return job
