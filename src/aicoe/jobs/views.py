"""HTML pages for background jobs: the list with status and progress, one job's details, and cancelling."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep
from aicoe.core.pagination import PageParams
from aicoe.jobs import service
from aicoe.jobs.service import JobStatus
from aicoe.web import forms, pages

router = APIRouter()

PAGE_SIZE = 25


@router.get("/jobs")
def jobs_page(request: Request, session: SessionDep, principal: require("job:read"),
              status: Annotated[str | None, Query(max_length=16)] = None,
              kind: Annotated[str | None, Query(max_length=64)] = None,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> HTMLResponse:
    page = service.list_jobs(session, principal, PageParams(limit=PAGE_SIZE, offset=offset),
                             status=status or None, kind=kind or None)
    return pages.render(request, "jobs.html", {
        "page": page, "status": status or "", "kind": kind or "", "statuses": [s.value for s in JobStatus],
        "pager_url": forms.query_url("/jobs", status=status, kind=kind),
    })


@router.get("/jobs/{job_id}")
def job_page(request: Request, session: SessionDep, principal: require("job:read"), job_id: int) -> HTMLResponse:
    job = service.get(session, principal, job_id)
    return pages.render(request, "job.html", {
        "job": job,
        "payload_json": json.dumps(job.payload, indent=2, sort_keys=True, ensure_ascii=False),
        "result_json": None if job.result is None else json.dumps(job.result, indent=2, sort_keys=True,
                                                                   ensure_ascii=False),
    })


@router.post("/jobs/{job_id}/cancel")
def cancel_job(request: Request, session: SessionDep, principal: require("job:write"), job_id: int) -> Response:
    job = service.cancel(session, principal, job_id)
    message = (f"Job {job.id} was cancelled." if job.status == JobStatus.CANCELLED
               else f"Job {job.id} will stop at its next checkpoint.")
    return pages.redirect(request, f"/jobs/{job.id}", message)
