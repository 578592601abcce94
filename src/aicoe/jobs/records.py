"""The shared kit of jobs that work on one record of an area (a dataset scan, an evaluation run): how such a job
fails the record with a reason a user can read, how a record's status is shown once its job ended without it,
and how the demo and tests run the job now, in their own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.config import Settings
from aicoe.core.errors import DomainError
from aicoe.core.time import utcnow
from aicoe.jobs.registry import JobCancelled, JobContext, LeaseLost, PermanentJobError, WorkerStopping
from aicoe.models.jobs import Job

UNFINISHED = ("queued", "running")
JOB_ENDED = ("cancelled", "failed")


class JobRecord(Protocol):
    id: int
    job_id: int | None
    status: str


def record_failure(ctx: JobContext, model: type[Any], entity_type: str, record_id: int, status: str,
                   message: str) -> None:
    """Mark the record ``failed`` or ``cancelled`` with ``message`` (its ``error``), audited, in a transaction of
    its own (the work's transaction may be gone)."""
    with ctx.session(write=True) as session:
        record = session.get(model, record_id)
        if record is not None:
            record.status, record.error, record.finished_at = status, message, utcnow()
            diff = ledger.changed(record)
            session.flush()
            ledger.append(session, ledger.SYSTEM, "fail" if status == "failed" else "cancel", entity_type,
                          record.id, diff)


def shown_statuses(session: Session, records: Sequence[JobRecord]) -> dict[int, str]:
    """Each record's status as shown: a record whose job ended without running it (cancelled while queued, or
    failed before it began) takes the job's outcome, since nothing else will ever finish it."""
    job_ids = [r.job_id for r in records if r.job_id is not None and r.status in UNFINISHED]
    ended: dict[int, str] = {}
    if job_ids:
        stmt = select(Job.id, Job.status).where(Job.id.in_(job_ids), Job.status.in_(JOB_ENDED))
        ended = {job_id: status for job_id, status in session.execute(stmt)}
    return {r.id: ended.get(r.job_id, r.status) if r.job_id is not None else r.status for r in records}


def guarded(ctx: JobContext, work: Callable[[], dict[str, Any]], fail: Callable[[str, str], None], *,
            cancelled: str, failed: str, gave_up: str,
            permanent: tuple[type[Exception], ...] = ()) -> dict[str, Any]:
    """Run ``work``; when the job will not succeed, ``fail(status, message)`` records why on the record first.

    Cancellation, a domain refusal (the input is no longer allowed, or gone), a ``PermanentJobError`` and the
    area's ``permanent`` errors (whose messages name the problem) fail at once; ``OSError``/``ValueError``/
    ``RuntimeError`` from an engine fail at once with ``failed`` (formatted with ``error``: engines' reasons never
    quote content); anything else (the database) is retried by the runner and recorded as ``gave_up`` on the last
    attempt. A lost lease or a stopping worker leaves the record to whoever runs the job next.
    """
    try:
        return work()
    except JobCancelled:
        fail("cancelled", cancelled)
        raise
    except DomainError as exc:
        fail("failed", exc.detail)
        raise PermanentJobError(exc.detail) from None
    except PermanentJobError as exc:
        fail("failed", str(exc))
        raise
    except (LeaseLost, WorkerStopping):
        raise
    except permanent as exc:
        fail("failed", str(exc))
        raise PermanentJobError(str(exc)) from None
    except (OSError, ValueError, RuntimeError) as exc:
        message = failed.format(error=exc)
        fail("failed", message)
        raise PermanentJobError(message) from None
    except Exception:
        if ctx.attempt >= ctx.max_attempts:
            fail("failed", gave_up)
        raise


class InlineContext:
    """A job context bound to the caller's session and transaction: no progress, no cancellation (the demo and
    tests run a job now; the caller commits)."""

    job_id, attempt, max_attempts = 0, 1, 1

    def __init__(self, session: Session, settings: Settings, kind: str, payload: dict[str, Any]) -> None:
        self._session = session
        self.settings = settings
        self.kind = kind
        self.payload = payload

    def progress(self, fraction: float, message: str = "") -> None:
        return None

    def check_cancelled(self) -> None:
        return None

    def session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        return nullcontext(self._session)
