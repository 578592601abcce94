"""The job runner: claim a due job under a lease, run its handler, record the outcome.

Guarantees, on SQLite and PostgreSQL alike:

* **No job lost.** A claim sets ``locked_by`` and ``lease_until``; the worker renews the lease while the handler
  runs (a heartbeat thread per running job, and every ``progress`` call). If the process dies, the lease runs out
  and any runner claims the job again as a new attempt.
* **None run twice to completion.** Claims are atomic (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: a
  ``BEGIN IMMEDIATE`` transaction). Every later write is conditional on ``locked_by`` being this claim's token and
  the job still running, so a worker whose lease was taken over can no longer finish, fail or renew the job.

Each step (claim, progress, finish) is its own short transaction; a handler never runs inside one.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from aicoe.audit import ledger
from aicoe.config import Settings
from aicoe.core.db import session_scope
from aicoe.core.logging import request_id_var
from aicoe.core.time import utcnow
from aicoe.jobs import registry
from aicoe.jobs.registry import JobCancelled, LeaseLost, PermanentJobError, WorkerStopping
from aicoe.jobs.service import JobStatus
from aicoe.models.jobs import Job

log = logging.getLogger("aicoe.jobs")

MAX_ERROR_CHARS = 4000
MAX_MESSAGE_CHARS = 2000
FINISH_TRIES = 3


def backoff_delay(attempt: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait before the attempt after ``attempt``: base, 2x base, 4x base, ... up to the cap."""
    return min(base_s * 2 ** max(attempt - 1, 0), cap_s)


def error_text(exc: BaseException) -> str:
    """A permanent error's message is written for people; anything else also names the exception type."""
    text = str(exc) if isinstance(exc, PermanentJobError) else f"{type(exc).__name__}: {exc}".removesuffix(": ")
    return text[:MAX_ERROR_CHARS]


@dataclass(frozen=True)
class Claim:
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    token: str  # the value of ``locked_by`` for this claim alone


class RunContext:
    """What a handler gets (see ``registry.JobContext``); bound to one claim of one job."""

    def __init__(self, runner: JobRunner, claim: Claim) -> None:
        self._runner = runner
        self._claim = claim
        self.job_id = claim.job_id
        self.kind = claim.kind
        self.payload = claim.payload
        self.attempt = claim.attempt
        self.max_attempts = claim.max_attempts
        self.settings = runner.settings
        self.lost = False
        self._last_fraction = -1.0
        self._last_message: str | None = None
        self._last_write = 0.0

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress; writes are skipped while nothing visible changed (under 1 % and under a second)."""
        if self.lost:
            raise LeaseLost(f"job {self.job_id} was taken over by another worker")
        value = float(fraction)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"progress must be between 0 and 1, got {fraction!r}")
        changed = message is not None and message != self._last_message
        now = time.monotonic()
        if not changed and abs(value - self._last_fraction) < 0.01 and value < 1.0 and now - self._last_write < 1:
            return
        values: dict[str, Any] = {"progress": value}
        if message is not None:
            values["message"] = message[:MAX_MESSAGE_CHARS]
        if not self._runner._renew(self._claim, values):
            self.lost = True
            raise LeaseLost(f"job {self.job_id} was taken over by another worker")
        self._last_fraction, self._last_write = value, now
        if message is not None:
            self._last_message = message

    def check_cancelled(self) -> None:
        if self._runner._stopping.is_set():
            raise WorkerStopping("the worker is shutting down")
        if self.lost:
            raise LeaseLost(f"job {self.job_id} was taken over by another worker")
        with self.session() as session:
            row = session.execute(
                select(Job.status, Job.locked_by, Job.cancel_requested).where(Job.id == self.job_id)
            ).one_or_none()
        if row is None or row.status != JobStatus.RUNNING or row.locked_by != self._claim.token:
            self.lost = True
            raise LeaseLost(f"job {self.job_id} was taken over by another worker")
        if row.cancel_requested:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        return session_scope(self._runner.sessionmaker, write=write)


class JobRunner:
    """Worker threads that poll for due jobs; also usable synchronously (``run_once``) in tests and the CLI."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, *, threads: int = 1,
                 worker_id: str | None = None, lease_s: float | None = None, poll_s: float | None = None,
                 backoff_s: float | None = None, backoff_max_s: float | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessionmaker = factory
        self.settings = settings
        self.threads = threads
        self.worker_id = worker_id or f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease = timedelta(seconds=lease_s if lease_s is not None else settings.job_lease_s)
        self.poll_s = poll_s if poll_s is not None else settings.job_poll_s
        self.backoff_s = backoff_s if backoff_s is not None else settings.job_backoff_s
        self.backoff_max_s = backoff_max_s if backoff_max_s is not None else settings.job_backoff_max_s
        self.clock = clock
        self._claims = itertools.count(1)
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        registry.load_handlers()

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._workers or self.threads <= 0:
            return
        self._stopping.clear()
        for n in range(self.threads):
            thread = threading.Thread(target=self._worker_loop, name=f"aicoe-job-worker-{n}", daemon=True)
            thread.start()
            self._workers.append(thread)
        log.info("job runner %s started with %d thread(s)", self.worker_id, self.threads)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; running handlers stop at their next check and their jobs go back to the queue.

        A handler still busy after ``timeout`` keeps its (daemon) thread; when the process exits, its lease runs
        out and another runner recovers the job.
        """
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._workers:
            thread.join(max(deadline - time.monotonic(), 0))
            if thread.is_alive():
                log.warning("job worker %s still busy at shutdown; its job will be recovered", thread.name)
        self._workers = []

    def run_once(self) -> int | None:
        """Claim one due job and run it in this thread; the job's id, or None when nothing was due."""
        claim = self._claim()
        if claim is None:
            return None
        self._execute(claim)
        return claim.job_id

    def run_until_idle(self, max_jobs: int = 10_000) -> int:
        """Run due jobs until none is left (retries wait for their backoff); the number of jobs run."""
        count = 0
        while count < max_jobs and self.run_once() is not None:
            count += 1
        return count

    def _worker_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database may be down or locked: wait and try again, never die
                log.exception("job runner %s could not claim a job", self.worker_id)
                ran = None
            if ran is None:
                self._stopping.wait(self.poll_s)

    # --- claiming --------------------------------------------------------------------------------------------

    def _claim(self) -> Claim | None:
        now = self.clock()
        token = f"{self.worker_id}#{next(self._claims)}"
        due = or_(
            and_(Job.status == JobStatus.QUEUED.value, Job.run_after <= now),
            and_(Job.status == JobStatus.RUNNING.value, Job.lease_until < now),
        )
        with session_scope(self.sessionmaker, write=False) as session:  # idle polls take no write lock
            if session.scalar(select(Job.id).where(due).limit(1)) is None:
                return None
        stmt = (select(Job).where(due).order_by(Job.run_after, Job.id).limit(1)
                .with_for_update(skip_locked=True))
        with session_scope(self.sessionmaker, write=True) as session:
            while (job := session.scalar(stmt)) is not None:
                if job.status == JobStatus.RUNNING and self._settle_abandoned(session, job, now):
                    continue
                job.status = JobStatus.RUNNING.value
                job.locked_by = token
                job.lease_until = now + self.lease
                job.attempts += 1
                job.started_at = now
                job.updated_at = now
                job.progress = 0.0
                session.flush()
                return Claim(job.id, job.kind, dict(job.payload or {}), job.attempts, job.max_attempts, token)
        return None

    def _settle_abandoned(self, session: Session, job: Job, now: datetime) -> bool:
        """A running job whose worker stopped renewing its lease: end it if it may not run again."""
        log.warning("job %s: worker %s stopped during attempt %d; recovering", job.id, job.locked_by, job.attempts)
        if job.cancel_requested:
            status, error = JobStatus.CANCELLED.value, job.error
        elif job.attempts >= job.max_attempts:
            status = JobStatus.FAILED.value
            error = (f"the worker running attempt {job.attempts} of {job.max_attempts} stopped "
                     "(its lease expired) and no attempts remain")
        else:
            return False
        diff = {"status": [job.status, status], "attempts": [job.attempts, job.attempts]}
        job.status, job.error, job.finished_at, job.updated_at = status, error, now, now
        job.locked_by, job.lease_until = None, None
        session.flush()
        ledger.append(session, ledger.SYSTEM, "cancel" if status == JobStatus.CANCELLED else "fail",
                      "job", job.id, diff)
        return True

    # --- running ---------------------------------------------------------------------------------------------

    def _execute(self, claim: Claim) -> None:
        handler = registry.get_handler(claim.kind)
        if handler is None:
            known = ", ".join(registry.kinds()) or "none"
            self._fail(claim, f"no handler is registered for job kind {claim.kind!r} (known kinds: {known})",
                       permanent=True)
            return
        ctx = RunContext(self, claim)
        rid = request_id_var.set(f"job-{claim.job_id}")
        try:
            with self._heartbeat(ctx):  # stopped before the outcome is recorded
                result = handler(ctx)
            try:
                result = json.loads(json.dumps(result, allow_nan=False))
            except (TypeError, ValueError) as exc:
                raise PermanentJobError(f"the handler returned a result JSON cannot encode: {exc}") from exc
        except JobCancelled:
            self._finish(claim, "cancel", {"status": JobStatus.CANCELLED.value, "message": "cancelled while running"})
        except LeaseLost:
            log.warning("job %s: attempt %d lost its lease; another worker owns it now", claim.job_id, claim.attempt)
        except WorkerStopping:
            self._release(claim)
        except PermanentJobError as exc:
            self._fail(claim, error_text(exc), permanent=True)
        except Exception as exc:
            log.exception("job %s (%s) attempt %d failed", claim.job_id, claim.kind, claim.attempt)
            self._fail(claim, error_text(exc), permanent=False)
        else:
            self._finish(claim, "complete", {"status": JobStatus.SUCCEEDED.value, "result": result,
                                             "progress": 1.0, "error": None})
        finally:
            request_id_var.reset(rid)

    @contextmanager
    def _heartbeat(self, ctx: RunContext) -> Iterator[None]:
        """Renew the lease every third of its length while the handler runs, whether or not it reports progress."""
        done = threading.Event()

        def beat() -> None:
            interval = max(self.lease.total_seconds() / 3, 0.05)
            while not done.wait(interval):
                try:
                    if not self._renew(ctx._claim, {}):
                        ctx.lost = True
                        log.warning("job %s: lease lost to another worker", ctx.job_id)
                        return
                except Exception:  # a busy or unreachable database: try again at the next beat
                    log.exception("job %s: could not renew the lease", ctx.job_id)

        thread = threading.Thread(target=beat, name=f"aicoe-job-{ctx.job_id}-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _fail(self, claim: Claim, error: str, *, permanent: bool) -> None:
        if permanent or claim.attempt >= claim.max_attempts:
            self._finish(claim, "fail", {"status": JobStatus.FAILED.value, "error": error})
            return
        delay = backoff_delay(claim.attempt, self.backoff_s, self.backoff_max_s)
        self._update_owned(claim, {
            "status": JobStatus.QUEUED.value, "error": error, "locked_by": None, "lease_until": None,
            "run_after": self.clock() + timedelta(seconds=delay),
            "message": f"attempt {claim.attempt} failed; retrying in {delay:g} s",
        })

    def _release(self, claim: Claim) -> None:
        """Shutdown interrupted the handler: give the job back without counting the attempt against it."""
        self._update_owned(claim, {
            "status": JobStatus.QUEUED.value, "locked_by": None, "lease_until": None, "run_after": self.clock(),
            "attempts": Job.attempts - 1, "message": "returned to the queue: its worker shut down",
        })

    def _finish(self, claim: Claim, action: str, values: dict[str, Any]) -> None:
        diff: dict[str, Any] = {"status": [JobStatus.RUNNING.value, values["status"]], "attempts": claim.attempt}
        if values.get("error"):
            diff["error"] = values["error"]
        values = {**values, "finished_at": self.clock(), "locked_by": None, "lease_until": None}
        if self._update_owned(claim, values, audit=(action, diff)):
            log.info("job %s (%s): %s after attempt %d", claim.job_id, claim.kind, values["status"], claim.attempt)

    def _update_owned(self, claim: Claim, values: dict[str, Any],
                      audit: tuple[str, dict[str, Any]] | None = None) -> bool:
        """Apply ``values`` only while this claim still owns the running job; retried if the database hiccups."""
        for attempt in range(1, FINISH_TRIES + 1):
            try:
                with self._owned(claim, values) as (session, owned):
                    if owned and audit is not None:
                        ledger.append(session, ledger.SYSTEM, audit[0], "job", claim.job_id, audit[1])
                if not owned:
                    log.warning("job %s: attempt %d no longer owns the job; its outcome is discarded",
                                claim.job_id, claim.attempt)
                return owned
            except OperationalError:
                if attempt == FINISH_TRIES:
                    log.exception("job %s: could not record the outcome; the lease will expire and it reruns",
                                  claim.job_id)
                    return False
                time.sleep(0.2 * attempt)
        return False

    @contextmanager
    def _owned(self, claim: Claim, values: dict[str, Any]) -> Iterator[tuple[Session, bool]]:
        with session_scope(self.sessionmaker, write=True) as session:
            result = session.execute(
                update(Job)
                .where(Job.id == claim.job_id, Job.locked_by == claim.token,
                       Job.status == JobStatus.RUNNING.value)
                .values(**values, updated_at=self.clock())
                .execution_options(synchronize_session=False)
            )
            yield session, result.rowcount == 1  # type: ignore[attr-defined]

    def _renew(self, claim: Claim, values: dict[str, Any]) -> bool:
        """Extend the lease (and write ``values``) if this claim still owns the job."""
        with self._owned(claim, {**values, "lease_until": self.clock() + self.lease}) as (_session, owned):
            return owned
