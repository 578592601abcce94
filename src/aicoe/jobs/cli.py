"""``aicoe worker`` runs background jobs outside the web server; ``aicoe jobs ...`` lists, queues and cancels."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.cli.common import console, domain_errors, engine_for, load_settings, unit_of_work
from aicoe.config import Settings
from aicoe.core.db import make_sessionmaker
from aicoe.core.errors import FieldError, ValidationFailed
from aicoe.jobs import service
from aicoe.jobs.runner import JobRunner
from aicoe.models.jobs import Job
from aicoe.sensitive.compiled import keep_compiled_filters


def worker(settings: Settings, threads: int = 1, once: bool = False) -> int:
    """Run jobs until SIGINT/SIGTERM (or, with ``once``, until none is due); the number of jobs run when ``once``.

    In-flight jobs are handed back to the queue on shutdown; a worker killed outright leaves its jobs to be
    recovered by any other worker once their lease expires.
    """
    keep_compiled_filters(settings)
    with engine_for(settings) as engine:
        runner = JobRunner(make_sessionmaker(engine, settings=settings), settings, threads=max(threads, 1))
        if once:
            return runner.run_until_idle()
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
        runner.start()
        try:
            stop.wait()
        finally:
            runner.stop(timeout=settings.job_lease_s)
        return 0


def _recent(session: Session, status: str | None, kind: str | None, limit: int) -> list[Job]:
    stmt = select(Job)
    if status:
        stmt = stmt.where(Job.status == status)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    return list(session.scalars(stmt.order_by(Job.id.desc()).limit(limit)))


def _payload(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"payload is not JSON: {exc}", errors=[FieldError("payload", str(exc))]) from None
    if not isinstance(value, dict):
        raise ValidationFailed("payload must be a JSON object", errors=[FieldError("payload", "not an object")])
    return value


def register(app: typer.Typer) -> None:
    """Add ``worker`` and the ``jobs`` sub-commands to the root CLI."""
    @app.command("worker")
    def worker_command(
        threads: Annotated[int, typer.Option(min=1, help="worker threads")] = 2,
        once: Annotated[bool, typer.Option(help="run the jobs that are due, then exit")] = False,
    ) -> None:
        """Run background jobs (scans, evaluations, reports) until stopped."""
        settings = load_settings()
        if once:
            console.print(f"ran {worker(settings, threads, once=True)} job(s)")
        else:
            console.print(f"worker running with {threads} thread(s); Ctrl-C to stop")
            worker(settings, threads)

    jobs_app = typer.Typer(help="List, queue and cancel background jobs.", no_args_is_help=True)
    app.add_typer(jobs_app, name="jobs")

    @jobs_app.command("list")
    @domain_errors
    def list_command(
        status: Annotated[service.JobStatus | None, typer.Option(help="only jobs in this status")] = None,
        kind: Annotated[str | None, typer.Option(help="only jobs of this kind")] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    ) -> None:
        """Show the most recent jobs."""
        table = Table("id")
        for name in ("kind", "status", "done", "tries", "queued (UTC)"):
            table.add_column(name, no_wrap=True)
        table.add_column("message / error", min_width=24, overflow="fold")
        with unit_of_work(load_settings(), write=False) as session:
            jobs = _recent(session, status.value if status else None, kind, limit)
        for job in jobs:
            table.add_row(str(job.id), job.kind, job.status, f"{job.progress:.0%}",
                          f"{job.attempts}/{job.max_attempts}", job.created_at.strftime("%m-%d %H:%M"),
                          (job.error or job.message)[:160])
        console.print(table)

    @jobs_app.command("enqueue")
    @domain_errors
    def enqueue_command(
        kind: Annotated[str, typer.Argument(help="job kind, e.g. audit.verify")],
        payload: Annotated[str, typer.Option(help="JSON object handed to the handler")] = "{}",
        max_attempts: Annotated[int, typer.Option(min=1, max=service.MAX_ATTEMPTS_LIMIT)] = 3,
    ) -> None:
        """Queue a job; a worker (or `aicoe serve`) runs it."""
        with unit_of_work(load_settings()) as session:
            job = service.enqueue(session, ledger.SYSTEM, kind, _payload(payload), max_attempts=max_attempts)
        console.print(f"queued job {job.id} ({kind})")

    @jobs_app.command("cancel")
    @domain_errors
    def cancel_command(job_id: Annotated[int, typer.Argument()]) -> None:
        """Cancel a queued job, or ask a running one to stop."""
        with unit_of_work(load_settings()) as session:
            job = service.cancel(session, ledger.SYSTEM, job_id)
        console.print(f"job {job.id}: {'cancel requested' if job.status == 'running' else job.status}")

