"""JSON routes for background jobs: /api/v1/jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.jobs import service
from aicoe.jobs.schemas import JobOut
from aicoe.jobs.service import JobStatus
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["jobs"])


@router.get("/jobs", response_model=PageOut[JobOut])
def list_jobs(session: SessionDep, principal: require("job:read"), page: PageQuery,
              status: JobStatus | None = None,
              kind: Annotated[str | None, Query(max_length=64)] = None) -> dict:
    """Jobs, newest first; sort by id, created_at, kind, status or finished_at."""
    return page_out(service.list_jobs(session, principal, page, status=status, kind=kind), JobOut)


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(session: SessionDep, principal: require("job:read"), job_id: int) -> object:
    return service.get(session, principal, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(session: SessionDep, principal: require("job:write"), job_id: int) -> object:
    """A queued job is cancelled at once; a running one is asked to stop at its next check."""
    return service.cancel(session, principal, job_id)
