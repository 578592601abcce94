"""Background jobs on a real database: results, progress, retries, cancellation, recovery after a killed worker,
stolen leases, two runners racing, the CLI, the API and the pages.

The handlers below are registered for these tests only; the worker subprocess imports this module to get them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aicoe.audit import ledger
from aicoe.auth.principal import Principal
from aicoe.config import Settings
from aicoe.core.db import make_engine, make_sessionmaker, session_scope
from aicoe.core.errors import Conflict
from aicoe.core.time import utcnow
from aicoe.jobs import service as jobs
from aicoe.jobs.registry import JobContext, LeaseLost, PermanentJobError, job_handler
from aicoe.jobs.runner import JobRunner, backoff_delay
from aicoe.models.audit import AuditEvent
from aicoe.models.jobs import Job
from tests.factories import (
    PASSWORD,
    bearer,
    csrf_from,
    login,
    make_settings,
    make_token,
    make_unit,
    make_user,
)

REPO = Path(__file__).resolve().parents[1]


# --- handlers used by the tests ----------------------------------------------------------------------------------

@job_handler("test.echo")
def _echo(ctx: JobContext) -> dict[str, Any]:
    return {"echo": ctx.payload.get("value"), "attempt": ctx.attempt}


@job_handler("test.flaky")
def _flaky(ctx: JobContext) -> dict[str, Any]:
    if ctx.attempt < ctx.payload["succeed_on"]:
        raise RuntimeError(f"boom {ctx.attempt}")
    return {"attempt": ctx.attempt}


@job_handler("test.bad_input")
def _bad_input(ctx: JobContext) -> None:
    raise PermanentJobError("payload lacks 'dataset_id'")


@job_handler("test.not_json")
def _not_json(ctx: JobContext) -> object:
    return {"when": object()}


@job_handler("test.progress")
def _progress(ctx: JobContext) -> dict[str, Any]:
    seen = []
    for fraction, message in ((0.25, "loading"), (0.75, "scoring")):
        ctx.progress(fraction, message)
        with ctx.session() as session:  # what anyone else reading the job sees now
            job = session.get(Job, ctx.job_id)
            assert job is not None
            seen.append([job.progress, job.message])
    return {"seen": seen}


@job_handler("test.self_cancel")
def _self_cancel(ctx: JobContext) -> dict[str, Any]:
    with ctx.session(write=True) as session:
        jobs.cancel(session, ledger.SYSTEM, ctx.job_id)
    ctx.check_cancelled()
    return {"cancel_missed": True}


@job_handler("test.wait")
def _wait(ctx: JobContext) -> dict[str, Any]:
    """Runs until cancelled or stopped; gives up after a while so that a broken test cannot hang."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(0.01)
    return {"cancel_missed": True}


@job_handler("test.slow")
def _slow(ctx: JobContext) -> dict[str, Any]:
    log = Path(ctx.payload["log"])
    with log.open("a") as fh:
        fh.write(f"start {ctx.attempt}\n")
    steps = ctx.payload["steps"]
    for i in range(steps):
        ctx.progress((i + 1) / steps, f"step {i + 1} of {steps}")
        time.sleep(ctx.payload["delay"])
    with log.open("a") as fh:
        fh.write(f"done {ctx.attempt}\n")
    return {"steps": steps}


RECORDED: list[int] = []
RECORD_LOCK = threading.Lock()


@job_handler("test.record")
def _record(ctx: JobContext) -> dict[str, Any]:
    with RECORD_LOCK:
        RECORDED.append(ctx.job_id)
    time.sleep(0.002)
    return {"ok": True}


THIEF: dict[str, Any] = {}


@job_handler("test.stolen")
def _stolen(ctx: JobContext) -> dict[str, Any]:
    """Attempt 1 stalls; another runner, to which the lease looks expired, takes the job over (attempt 2) and
    holds it while attempt 1 tries to report progress and to complete."""
    if ctx.attempt == 1:
        THIEF["started"] = threading.Event()
        THIEF["thread"] = threading.Thread(target=lambda: THIEF.update(took=THIEF["runner"].run_once()))
        THIEF["thread"].start()
        assert THIEF["started"].wait(10)
        try:
            ctx.progress(0.5, "still mine?")
        except LeaseLost:
            THIEF["lost"] = True
        return {"by": "first"}
    THIEF["started"].set()
    assert THIEF["release"].wait(10)
    return {"by": "thief"}


@job_handler("test.quiet")
def _quiet(ctx: JobContext) -> dict[str, Any]:
    """Works for several lease lengths without reporting progress, then lets another runner try to claim it."""
    time.sleep(ctx.payload["seconds"])
    return {"other_runner_took": THIEF["runner"].run_once()}


# --- helpers -----------------------------------------------------------------------------------------------------

class Clock:
    """A clock the runner reads instead of the wall clock, so backoff can be stepped through without sleeping."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.effective_database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def enqueue(factory: sessionmaker[Session], kind: str, payload: dict[str, Any] | None = None, **kw: Any) -> int:
    with session_scope(factory) as session:
        return jobs.enqueue(session, ledger.SYSTEM, kind, payload, **kw).id


def load(factory: sessionmaker[Session], job_id: int) -> Job:
    with session_scope(factory, write=False) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def actions(factory: sessionmaker[Session], job_id: int) -> list[str]:
    with session_scope(factory, write=False) as session:
        return list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.entity_type == "job", AuditEvent.entity_id == str(job_id)).order_by(AuditEvent.seq)))


# --- running, results, progress ----------------------------------------------------------------------------------

def test_a_job_runs_once_to_a_result_and_is_audited(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.echo", {"value": 42})
    runner = JobRunner(factory, settings)
    assert runner.run_once() == job_id
    assert runner.run_once() is None
    job = load(factory, job_id)
    assert (job.status, job.result, job.progress, job.attempts) == ("succeeded", {"echo": 42, "attempt": 1}, 1.0, 1)
    assert job.locked_by is None and job.lease_until is None and job.error is None
    assert job.started_at is not None and job.finished_at is not None and job.finished_at >= job.started_at
    assert actions(factory, job_id) == ["enqueue", "complete"]


def test_builtin_audit_verify_job_reports_the_chain(any_db_url: str, tmp_path: Path) -> None:
    settings = make_settings(any_db_url, tmp_path)
    engine = make_engine(any_db_url)
    try:
        factory = make_sessionmaker(engine)
        job_id = enqueue(factory, "audit.verify")
        assert JobRunner(factory, settings).run_until_idle() == 1
        job = load(factory, job_id)
        assert job.status == "succeeded", job.error
        assert job.result is not None
        assert job.result["ok"] is True and job.result["checked"] == job.result["head_seq"] >= 1
        assert job.message == "chain intact"
    finally:
        engine.dispose()


def test_progress_is_visible_while_the_job_runs(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.progress")
    JobRunner(factory, settings).run_once()
    job = load(factory, job_id)
    assert job.status == "succeeded"
    assert job.result == {"seen": [[0.25, "loading"], [0.75, "scoring"]]}
    assert job.progress == 1.0 and job.message == "scoring"


def test_a_result_json_cannot_encode_fails_the_job(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.not_json")
    JobRunner(factory, settings, backoff_s=0).run_until_idle()
    job = load(factory, job_id)
    assert job.status == "failed" and job.attempts == 1
    assert job.error is not None and job.error.startswith("the handler returned a result JSON cannot encode")


def test_enqueue_refuses_bad_input(factory: sessionmaker[Session]) -> None:
    from aicoe.core.errors import ValidationFailed

    with session_scope(factory) as session, pytest.raises(ValidationFailed) as info:
        jobs.enqueue(session, ledger.SYSTEM, "", {"x": object()}, max_attempts=0)
    assert [e.field for e in info.value.errors] == ["kind", "payload", "max_attempts"]


# --- retries and failure -----------------------------------------------------------------------------------------

def test_failures_retry_with_exponential_backoff_then_succeed(factory: sessionmaker[Session],
                                                               settings: Settings) -> None:
    job_id = enqueue(factory, "test.flaky", {"succeed_on": 3}, max_attempts=3)
    clock = Clock()
    runner = JobRunner(factory, settings, backoff_s=5, clock=clock)

    assert runner.run_once() == job_id
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.error) == ("queued", 1, "RuntimeError: boom 1")
    assert job.run_after == clock.now + timedelta(seconds=5) and job.locked_by is None
    assert runner.run_once() is None  # not due before its backoff

    clock.advance(5)
    assert runner.run_once() == job_id
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.error) == ("queued", 2, "RuntimeError: boom 2")
    assert job.run_after == clock.now + timedelta(seconds=10)
    clock.advance(9.9)
    assert runner.run_once() is None

    clock.advance(0.1)
    assert runner.run_once() == job_id
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.result, job.error) == ("succeeded", 3, {"attempt": 3}, None)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n, 10, 60) for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_a_job_that_exhausts_its_attempts_fails_with_the_error(factory: sessionmaker[Session],
                                                                settings: Settings) -> None:
    job_id = enqueue(factory, "test.flaky", {"succeed_on": 99}, max_attempts=2)
    assert JobRunner(factory, settings, backoff_s=0).run_until_idle() == 2
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 2, "RuntimeError: boom 2")
    assert job.finished_at is not None and job.result is None
    assert actions(factory, job_id) == ["enqueue", "fail"]


def test_an_unknown_kind_fails_at_once_with_a_clear_error(factory: sessionmaker[Session],
                                                           settings: Settings) -> None:
    job_id = enqueue(factory, "no.such.kind", max_attempts=5)
    assert JobRunner(factory, settings, backoff_s=0).run_until_idle() == 1
    job = load(factory, job_id)
    assert (job.status, job.attempts) == ("failed", 1)
    assert job.error is not None
    assert job.error.startswith("no handler is registered for job kind 'no.such.kind' (known kinds: audit.verify")


def test_a_permanent_error_is_not_retried(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.bad_input", max_attempts=5)
    assert JobRunner(factory, settings, backoff_s=0).run_until_idle() == 1
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 1, "payload lacks 'dataset_id'")


# --- cancellation ------------------------------------------------------------------------------------------------

def test_cancelling_a_queued_job_is_immediate(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.echo")
    with session_scope(factory) as session:
        assert jobs.cancel(session, ledger.SYSTEM, job_id).status == "cancelled"
    assert JobRunner(factory, settings).run_once() is None
    job = load(factory, job_id)
    assert job.status == "cancelled" and job.attempts == 0 and job.finished_at is not None
    with session_scope(factory) as session, pytest.raises(Conflict, match="already cancelled"):
        jobs.cancel(session, ledger.SYSTEM, job_id)
    assert actions(factory, job_id) == ["enqueue", "cancel"]


def test_a_running_job_stops_at_its_next_check(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.self_cancel")
    JobRunner(factory, settings).run_once()
    job = load(factory, job_id)
    assert (job.status, job.result, job.cancel_requested) == ("cancelled", None, True)
    assert actions(factory, job_id) == ["enqueue", "request_cancel", "cancel"]


def test_stopping_a_runner_hands_its_job_back(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.wait")
    runner = JobRunner(factory, settings, threads=1, poll_s=0.01)
    runner.start()
    try:
        wait_for(lambda: load(factory, job_id).status == "running", "the job to start")
    finally:
        runner.stop()
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.locked_by) == ("queued", 0, None)
    assert job.message == "returned to the queue: its worker shut down"


# --- recovery and ownership --------------------------------------------------------------------------------------

def test_a_job_killed_mid_run_is_picked_up_again_after_restart(factory: sessionmaker[Session], settings: Settings,
                                                               db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    job_id = enqueue(factory, "test.slow", {"steps": 20, "delay": 0.05, "log": str(log)})
    env = {**os.environ, "AICOE_DATABASE_URL": db_url, "AICOE_ENV": "test", "AICOE_SECRET_KEY": "k" * 48,
           "AICOE_DATA_DIR": str(tmp_path / "worker-data"), "AICOE_JOB_LEASE_S": "1", "AICOE_JOB_POLL_S": "0.05",
           "AICOE_LOG_LEVEL": "WARNING"}
    script = ("import tests.test_jobs\n"
              "from aicoe.config import Settings\n"
              "from aicoe.jobs.cli import worker\n"
              "worker(Settings(), threads=1)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env)
    try:
        wait_for(lambda: load(factory, job_id).progress > 0, "the worker process to start the job")
    finally:
        proc.kill()  # SIGKILL: no cleanup, no hand-back; only the lease can tell
        proc.wait(10)
    killed = load(factory, job_id)
    assert (killed.status, killed.attempts) == ("running", 1)
    assert log.read_text().splitlines() == ["start 1"]

    runner = JobRunner(factory, settings, lease_s=5)
    wait_for(lambda: runner.run_once() == job_id, "the killed worker's lease to expire and the job to rerun")
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.result) == ("succeeded", 2, {"steps": 20})
    assert log.read_text().splitlines() == ["start 1", "start 2", "done 2"]
    assert runner.run_once() is None
    assert actions(factory, job_id) == ["enqueue", "complete"]


def test_a_worker_whose_lease_was_taken_cannot_complete(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.stolen")
    first = JobRunner(factory, settings, lease_s=30, clock=Clock())
    later = Clock()
    later.advance(3600)  # to this runner the first one's lease has long expired
    thief = JobRunner(factory, settings, lease_s=30, clock=later)
    THIEF.clear()
    THIEF.update(runner=thief, release=threading.Event())
    try:
        assert first.run_once() == job_id  # its handler returned, but the outcome must be discarded
        job = load(factory, job_id)
        assert (job.status, job.attempts, job.result) == ("running", 2, None)
        assert job.locked_by is not None and job.locked_by.startswith(thief.worker_id)
        assert THIEF.get("lost") is True
    finally:
        THIEF["release"].set()
        THIEF["thread"].join(10)
    assert THIEF["took"] == job_id
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.result) == ("succeeded", 2, {"by": "thief"})
    assert actions(factory, job_id) == ["enqueue", "complete"]


def test_the_heartbeat_keeps_a_quiet_job_leased(factory: sessionmaker[Session], settings: Settings) -> None:
    job_id = enqueue(factory, "test.quiet", {"seconds": 2.5})
    THIEF.clear()
    THIEF["runner"] = JobRunner(factory, settings, lease_s=1)
    assert JobRunner(factory, settings, lease_s=1).run_once() == job_id
    job = load(factory, job_id)
    assert (job.status, job.attempts, job.result) == ("succeeded", 1, {"other_runner_took": None})


def test_an_abandoned_job_without_attempts_left_fails(factory: sessionmaker[Session], settings: Settings) -> None:
    dead = enqueue(factory, "test.echo", max_attempts=1)
    cancelled = enqueue(factory, "test.echo")
    past = utcnow() - timedelta(minutes=5)
    with session_scope(factory) as session:  # as a worker that died during its (last) attempt leaves them
        for job_id, cancel in ((dead, False), (cancelled, True)):
            job = session.get(Job, job_id)
            assert job is not None
            job.status, job.attempts, job.locked_by, job.lease_until = "running", 1, "gone:1:abc#1", past
            job.cancel_requested = cancel
    assert JobRunner(factory, settings).run_once() is None
    job = load(factory, dead)
    assert job.status == "failed" and job.error is not None and "no attempts remain" in job.error
    assert load(factory, cancelled).status == "cancelled"
    assert actions(factory, dead) == ["enqueue", "fail"]


def test_two_runners_never_run_the_same_job_twice(any_db_url: str, tmp_path: Path) -> None:
    settings = make_settings(any_db_url, tmp_path)
    engines = [make_engine(any_db_url) for _ in range(3)]
    factories = [make_sessionmaker(e) for e in engines]
    RECORDED.clear()
    ids = [enqueue(factories[0], "test.record") for _ in range(40)]
    runners = [JobRunner(f, settings, threads=2, poll_s=0.01) for f in factories[1:]]
    for runner in runners:
        runner.start()
    try:
        def all_done() -> bool:
            with session_scope(factories[0], write=False) as session:
                return not session.scalar(select(Job.id).where(Job.status.in_(["queued", "running"])).limit(1))
        wait_for(all_done, "both runners to drain the queue")
    finally:
        for runner in runners:
            runner.stop()
        with session_scope(factories[0], write=False) as session:
            rows = session.execute(select(Job.id, Job.status, Job.attempts)).all()
        for engine in engines:
            engine.dispose()
    assert sorted(RECORDED) == sorted(ids)
    assert {(status, attempts) for _id, status, attempts in rows} == {("succeeded", 1)}


def test_the_server_runs_jobs_in_its_worker_threads(db_url: str, tmp_path: Path) -> None:
    from aicoe.app import create_app

    app = create_app(make_settings(db_url, tmp_path, job_workers=2, job_poll_s=0.01), run_jobs=True)
    with TestClient(app):
        job_id = enqueue(app.state.sessionmaker, "test.echo", {"value": "served"})
        wait_for(lambda: load(app.state.sessionmaker, job_id).status == "succeeded", "the server's workers")
    assert load(app.state.sessionmaker, job_id).result == {"echo": "served", "attempt": 1}


# --- CLI ---------------------------------------------------------------------------------------------------------

def test_worker_once_runs_what_is_due(factory: sessionmaker[Session], settings: Settings) -> None:
    from aicoe.jobs.cli import worker

    ids = [enqueue(factory, "test.echo", {"value": n}) for n in range(3)]
    assert worker(settings, threads=1, once=True) == 3
    assert [load(factory, i).result for i in ids] == [{"echo": n, "attempt": 1} for n in range(3)]


def test_jobs_cli_queues_lists_runs_and_cancels(settings: Settings, factory: sessionmaker[Session],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from aicoe.jobs.cli import register

    for key, value in {"DATABASE_URL": settings.effective_database_url, "ENV": "test",
                       "SECRET_KEY": "k" * 48, "DATA_DIR": str(settings.data_dir)}.items():
        monkeypatch.setenv(f"AICOE_{key}", value)
    app = typer.Typer()
    register(app)
    cli = CliRunner()
    result = cli.invoke(app, ["jobs", "enqueue", "audit.verify"])
    assert result.exit_code == 0, result.output
    assert "queued job 1 (audit.verify)" in result.output
    result = cli.invoke(app, ["jobs", "enqueue", "test.echo", "--payload", "[1]"])
    assert result.exit_code == 1 and "payload must be a JSON object" in result.output
    cli.invoke(app, ["jobs", "enqueue", "test.echo"])
    assert cli.invoke(app, ["jobs", "cancel", "2"]).output.strip() == "job 2: cancelled"
    result = cli.invoke(app, ["worker", "--once"])
    assert result.exit_code == 0 and "ran 1 job(s)" in result.output
    result = cli.invoke(app, ["jobs", "list", "--status", "succeeded"])
    assert "audit.verify" in result.output and "test.echo" not in result.output
    result = cli.invoke(app, ["jobs", "cancel", "1"])
    assert result.exit_code == 1 and "already succeeded" in result.output


# --- API and pages -----------------------------------------------------------------------------------------------

def _admin(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db)))


def test_api_lists_filters_and_reads_jobs(client: TestClient, db: Session, app: Any) -> None:
    factory = app.state.sessionmaker
    headers = _admin(db)
    done = enqueue(factory, "test.echo", {"value": 1})
    JobRunner(factory, app.state.settings).run_once()
    enqueue(factory, "test.echo", {"value": 2})
    enqueue(factory, "test.flaky", {"succeed_on": 1})

    page = client.get("/api/v1/jobs", headers=headers).json()
    assert page["total"] == 3 and [j["kind"] for j in page["items"]] == ["test.flaky", "test.echo", "test.echo"]
    only = client.get("/api/v1/jobs", params={"status": "succeeded"}, headers=headers).json()
    assert [j["id"] for j in only["items"]] == [done]
    assert client.get("/api/v1/jobs", params={"kind": "test.flaky"}, headers=headers).json()["total"] == 1
    sorted_page = client.get("/api/v1/jobs", params={"sort": "id", "limit": 2}, headers=headers).json()
    assert [j["id"] for j in sorted_page["items"]] == [done, done + 1] and sorted_page["next_offset"] == 2
    bad = client.get("/api/v1/jobs", params={"status": "bogus"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"

    one = client.get(f"/api/v1/jobs/{done}", headers=headers).json()
    assert one["status"] == "succeeded" and one["result"] == {"echo": 1, "attempt": 1} and one["progress"] == 1.0
    missing = client.get("/api/v1/jobs/999999", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_api_refuses_roles_without_the_permission(client: TestClient, db: Session, app: Any) -> None:
    job_id = enqueue(app.state.sessionmaker, "test.echo")
    viewer = bearer(make_token(db, make_user(db, roles=[("viewer", None)])))
    strategist = bearer(make_token(db, make_user(db, roles=[("product_strategist", None)])))
    assert client.get("/api/v1/jobs", headers=viewer).status_code == 403
    assert client.get(f"/api/v1/jobs/{job_id}", headers=viewer).status_code == 403
    assert client.get(f"/api/v1/jobs/{job_id}", headers=strategist).status_code == 200
    refused = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=strategist)
    assert refused.status_code == 403 and "job:write" in refused.json()["detail"]
    assert client.get("/api/v1/jobs").status_code == 401
    assert load(app.state.sessionmaker, job_id).status == "queued"


def test_business_unit_users_see_only_their_own_jobs(client: TestClient, db: Session, app: Any) -> None:
    factory = app.state.sessionmaker
    others = enqueue(factory, "test.echo")
    unit = make_unit(db)
    user = make_user(db, roles=[("practitioner", unit)])
    with session_scope(factory) as session:
        mine = jobs.enqueue(session, Principal.resolve(session, session.merge(user)), "test.echo").id
    headers = bearer(make_token(db, user))
    listed = client.get("/api/v1/jobs", headers=headers).json()
    assert [j["id"] for j in listed["items"]] == [mine]
    assert client.get(f"/api/v1/jobs/{others}", headers=headers).status_code == 404
    assert load(factory, mine).created_by_id == user.id


def test_api_cancels_a_running_job(client: TestClient, db: Session, app: Any) -> None:
    factory = app.state.sessionmaker
    headers = _admin(db)
    job_id = enqueue(factory, "test.wait")
    runner = JobRunner(factory, app.state.settings, threads=1, poll_s=0.01)
    runner.start()
    try:
        wait_for(lambda: load(factory, job_id).status == "running", "the job to start")
        asked = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
        assert asked.status_code == 200
        assert (asked.json()["status"], asked.json()["cancel_requested"]) == ("running", True)
        wait_for(lambda: load(factory, job_id).status == "cancelled", "the handler to stop")
    finally:
        runner.stop()
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 409
    assert actions(factory, job_id) == ["enqueue", "request_cancel", "cancel"]


def test_jobs_page_shows_progress_and_cancels_with_csrf(client: TestClient, db: Session, app: Any,
                                                        settings: Settings) -> None:
    factory = app.state.sessionmaker
    user = make_user(db, password=PASSWORD, settings=settings)
    done = enqueue(factory, "audit.verify")
    JobRunner(factory, settings).run_once()
    queued = enqueue(factory, "test.echo", {"value": "<b>"})
    login(client, user.email)

    page = client.get("/jobs")
    assert page.status_code == 200
    assert "audit.verify" in page.text and "test.echo" in page.text
    assert f'action="/jobs/{queued}/cancel"' in page.text and f'action="/jobs/{done}/cancel"' not in page.text
    assert client.get("/jobs", params={"status": "succeeded"}).text.count('href="/jobs/') == 1

    detail = client.get(f"/jobs/{queued}")
    assert detail.status_code == 200 and "&lt;b&gt;" in detail.text

    refused = client.post(f"/jobs/{queued}/cancel", data={})
    assert refused.status_code == 403
    assert load(factory, queued).status == "queued"
    response = client.post(f"/jobs/{queued}/cancel", data={"csrf_token": csrf_from(page.text)},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/jobs/{queued}"
    assert "was cancelled" in client.get(response.headers["location"]).text
    assert load(factory, queued).status == "cancelled"

    broken = enqueue(factory, "no.such.kind")
    assert JobRunner(factory, settings).run_once() == broken
    failed = client.get(f"/jobs/{broken}").text
    assert "no handler is registered for job kind &#39;no.such.kind&#39;" in failed
    assert f'action="/jobs/{broken}/cancel"' not in failed
    assert client.get("/jobs/999999").status_code == 404


def test_jobs_page_hides_cancel_without_job_write_and_refuses_viewers(client: TestClient, db: Session, app: Any,
                                                                      settings: Settings) -> None:
    queued = enqueue(app.state.sessionmaker, "test.echo")
    strategist = make_user(db, roles=[("product_strategist", None)], password=PASSWORD, settings=settings)
    viewer = make_user(db, roles=[("viewer", None)], password=PASSWORD, settings=settings)
    login(client, strategist.email)
    page = client.get("/jobs")
    assert page.status_code == 200 and f"/jobs/{queued}" in page.text and "/cancel" not in page.text
    client.cookies.clear()
    login(client, viewer.email)
    assert client.get("/jobs").status_code == 403
