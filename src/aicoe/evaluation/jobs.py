"""The ``evaluation.run`` job: evaluate a run's prediction log with the engine and store the result.

Three steps, each database step its own short transaction (the runner's rule): mark the run running and work
out what to read (a path is checked against the allowed directories again, since it may have changed; an upload
is copied under its own name into a private temporary directory so its format can be recognised); hash the input
and evaluate it without holding a transaction, reporting progress in rows and stopping when cancellation is
asked for; then store the result, its hash and the headline numbers.

**The input's hash.** ``input_sha256`` is the sha256 of the file's bytes (an upload's is the stored file's hash,
so ``sha256sum`` of the original file matches it); for a directory, the sha256 of its manifest: one line
``<sha256 of the file>  <path relative to the directory>`` per file the engine reads, in name order. The stored
result keeps the engine's own ``fingerprint``, so a report can be re-rendered and tied to its data long after
the file is gone. A completed run is not evaluated again (a retry finds it done).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.compliance.evidence import sha256_of
from aicoe.config import Settings
from aicoe.core.time import utcnow
from aicoe.engines.evaluation.engine import evaluate
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.policy import Policy
from aicoe.engines.evaluation.result import EvaluationResult
from aicoe.engines.evaluation.spec import ColumnSpec, Options
from aicoe.evaluation.service import JOB_KIND, check_policy, headline
from aicoe.files import service as files_service
from aicoe.files.locations import resolve_location
from aicoe.jobs.records import InlineContext, guarded, record_failure
from aicoe.jobs.registry import JobContext, PermanentJobError, job_handler
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.files import StoredFile

CANCEL_CHECK_S = 1.0
UPLOAD_SOURCE = re.compile(r"file:\d+")  # how a run names an upload (a file:// URI is a path)
HASH_CHUNK = 1 << 20
NO_RUN = "evaluation run {run_id} does not exist"
UPLOAD_GONE = "the uploaded file {file_id} no longer exists"
ENGINE_FAILED = "the evaluation stopped: {error}"
CANCELLED = "cancelled while running"
GAVE_UP = "the evaluation failed on its last attempt; the job's error says why"


@dataclass(frozen=True)
class Plan:
    """What to evaluate and how; ``input_sha256`` is known already for an upload."""

    run_id: int
    path: Path
    reference: Path | None
    spec: ColumnSpec
    options: Options
    policy: Policy | None
    engine: str
    input_sha256: str | None


# --- step 1: begin ---------------------------------------------------------------------------------------------

def _local(session: Session, settings: Settings, source: str, file_id: int | None, directory: Path) -> Path:
    """Where an input lies on this machine: an allowed path, or an upload copied into ``directory``."""
    if UPLOAD_SOURCE.fullmatch(source) is None:
        return resolve_location(source, settings)
    stored = session.get(StoredFile, file_id) if file_id is not None else None  # None: the upload was deleted
    if stored is None:
        raise PermanentJobError(UPLOAD_GONE.format(file_id=source.removeprefix("file:")))
    directory.mkdir()
    return files_service.copy_out(settings, stored, directory)


def _begin(session: Session, settings: Settings, run_id: int, workdir_path: Path) -> Plan | None:
    """Mark the run running and plan it; None when it already completed (a rerun has nothing to do)."""
    run = session.get(EvaluationRun, run_id)
    if run is None:
        raise PermanentJobError(NO_RUN.format(run_id=run_id))
    if run.status == "completed":
        return None
    run.status, run.started_at, run.error = "running", utcnow(), ""
    session.flush()
    path = _local(session, settings, run.source, run.file_id, workdir_path / "input")
    reference = None
    if run.reference_source:
        reference = _local(session, settings, run.reference_source, run.reference_file_id,
                           workdir_path / "reference")
    stored = session.get(StoredFile, run.file_id) if run.file_id is not None else None
    return Plan(run_id=run_id, path=path, reference=reference, spec=ColumnSpec.from_dict(run.spec),
                options=Options(**run.options), policy=check_policy(run.policy) if run.policy.strip() else None,
                engine=run.engine, input_sha256=stored.sha256 if stored is not None else None)


# --- step 2: evaluate ------------------------------------------------------------------------------------------

def _files(path: Path) -> list[Path]:
    """The files the engine reads from a directory: recursively, in name order, hidden names ('.', '_') left out."""
    found = [p for p in path.rglob("*") if p.is_file()
             and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)]
    return sorted(found, key=lambda p: p.relative_to(path).as_posix())


def _file_sha256(path: Path, ctx: JobContext) -> str:
    digest = hashlib.sha256()
    last_check = time.monotonic()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            if time.monotonic() - last_check >= CANCEL_CHECK_S:
                last_check = time.monotonic()
                ctx.check_cancelled()
    return digest.hexdigest()


def input_sha256(path: Path, ctx: JobContext) -> str:
    """A file's sha256, or the sha256 of a directory's manifest (see the module's docstring)."""
    if path.is_file():
        return _file_sha256(path, ctx)
    manifest = "".join(f"{_file_sha256(f, ctx)}  {f.relative_to(path).as_posix()}\n" for f in _files(path))
    return hashlib.sha256(manifest.encode()).hexdigest()


def _evaluate(ctx: JobContext, plan: Plan) -> tuple[EvaluationResult, str]:
    last_check = time.monotonic()

    def progress(done: int, total: int | None) -> None:
        nonlocal last_check
        if total:
            ctx.progress(min(done / total, 1.0), f"evaluated {done:,} of {total:,} rows")
        else:
            ctx.progress(0.0, f"evaluated {done:,} rows")
        if time.monotonic() - last_check >= CANCEL_CHECK_S:
            last_check = time.monotonic()
            ctx.check_cancelled()

    ctx.progress(0.0, "hashing the input")
    ctx.check_cancelled()
    sha256 = plan.input_sha256 or input_sha256(plan.path, ctx)
    ctx.progress(0.0, "evaluating")
    result = evaluate(plan.path, plan.spec, reference=plan.reference, policy=plan.policy, options=plan.options,
                      engine=plan.engine, progress=progress)  # type: ignore[arg-type]
    return result, sha256


# --- step 3: record --------------------------------------------------------------------------------------------

def _record(session: Session, plan: Plan, result: EvaluationResult, sha256: str) -> dict[str, Any]:
    run = session.get(EvaluationRun, plan.run_id)
    assert run is not None  # checked when the run began; runs are deleted only with their subject
    stored = result.to_dict()
    run.result, run.rows, run.fingerprint, run.input_sha256 = stored, result.rows, result.fingerprint, sha256
    run.passed = result.passed
    run.checks_total = len(result.checks)
    run.checks_failed = sum(1 for c in result.checks if not c["passed"])
    run.headline = headline(stored)
    run.status, run.finished_at = "completed", utcnow()
    diff = ledger.changed(run)
    diff["result"] = [None, sha256_of(stored)]  # the ledger keeps the result's hash, the row keeps the result
    session.flush()
    ledger.append(session, ledger.SYSTEM, "complete", "evaluation_run", run.id, diff)
    return {"run_id": run.id, "status": run.status, "rows": run.rows, "passed": run.passed,
            "checks_total": run.checks_total, "checks_failed": run.checks_failed}


# --- the handler -----------------------------------------------------------------------------------------------

@job_handler(JOB_KIND)
def evaluation_run_job(ctx: JobContext) -> dict[str, Any]:
    """Payload ``{"run_id": N}``; returns the run's outcome in numbers."""
    run_id = int(ctx.payload["run_id"])

    def work() -> dict[str, Any]:
        with files_service.private_workdir(ctx.settings, "eval-") as directory:
            with ctx.session(write=True) as session:
                plan = _begin(session, ctx.settings, run_id, directory)
            if plan is None:
                return {"run_id": run_id, "status": "completed"}
            result, sha256 = _evaluate(ctx, plan)
        with ctx.session(write=True) as session:
            return _record(session, plan, result, sha256)

    # an EvaluationError is the data or the spec: the engine's message names the problem
    fail = partial(record_failure, ctx, EvaluationRun, "evaluation_run", run_id)
    return guarded(ctx, work, fail, cancelled=CANCELLED, failed=ENGINE_FAILED, gave_up=GAVE_UP,
                   permanent=(EvaluationError,))


def run_now(session: Session, settings: Settings, run_id: int) -> dict[str, Any]:
    """Run the evaluation job in the caller's transaction (the caller commits)."""
    return evaluation_run_job(InlineContext(session, settings, JOB_KIND, {"run_id": run_id}))
