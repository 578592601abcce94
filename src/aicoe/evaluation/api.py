"""JSON routes for evaluation runs, their reports, and the policy helpers a client uses before starting one.

The report is the engine's self-contained HTML, built from the stored result; it is served with a
Content-Security-Policy that allows no script, no network and no framing outside the platform, so nothing in a
prediction log (a group or column name) can act in a browser.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from aicoe.auth.deps import require
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.engines.evaluation import policy as engine_policy
from aicoe.evaluation import schemas, service
from aicoe.models.evaluation import EvaluationRun
from aicoe.web.api_common import PageOut, PageQuery, page_out

router = APIRouter(tags=["evaluation"])

REPORT_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                  "X-Content-Type-Options": "nosniff"}


def shown(session: Session, run: EvaluationRun, model: type[schemas.RunSummary] = schemas.RunSummary) -> Any:
    """The run as ``model``, with its status as shown (see ``service.statuses``)."""
    return model.model_validate(run).model_copy(update={"status": service.statuses(session, [run])[run.id]})


@router.post("/evaluations", response_model=schemas.RunStarted, status_code=202)
def start_run(session: SessionDep, settings: SettingsDep, principal: require(service.RUN),
              body: schemas.RunCreate) -> schemas.RunStarted:
    """Queue an evaluation of an AI system and/or a model: predictions from an upload (``file_id``) or a path
    the server may read (``path``), an optional reference for drift, the column spec, options and a policy.
    Follow the job at ``job_url``; the run (with its result once completed) at ``/api/v1/evaluations/{id}``."""
    run, job = service.start_run(session, principal, settings, body)
    return schemas.RunStarted(run=schemas.RunSummary.model_validate(run), job_id=job.id,
                              job_url=f"/api/v1/jobs/{job.id}")


@router.get("/evaluations", response_model=PageOut[schemas.RunSummary])
def list_runs(session: SessionDep, principal: require(service.READ), page: PageQuery,
              ai_system_id: int | None = None, model_id: int | None = None,
              status: Annotated[str | None, Query(max_length=16)] = None) -> dict[str, Any]:
    """Runs in the caller's units, newest first; sort by created_at, finished_at, status or name."""
    runs = service.list_runs(session, principal, page, ai_system_id=ai_system_id, model_id=model_id, status=status)
    shown = service.statuses(session, list(runs.items))
    result = page_out(runs, schemas.RunSummary)
    return {**result, "items": [r.model_copy(update={"status": shown[r.id]}) for r in result["items"]]}


@router.get("/evaluations/policy-templates", response_model=dict[str, str])
def policy_templates(principal: require(service.READ)) -> dict[str, str]:
    """The built-in policies: name -> YAML (start a run with ``policy_template`` or adapt the text)."""
    return engine_policy.templates()


@router.post("/evaluations/policy-check", response_model=schemas.PolicyChecksOut)
def policy_check(principal: require(service.READ), body: schemas.PolicyIn) -> schemas.PolicyChecksOut:
    """Validate a policy (YAML) as a run would: 200 with its checks as parsed, or 422 with the engine's message."""
    policy = service.check_policy(body.policy)
    return schemas.PolicyChecksOut(name=policy.name, checks=[c.to_dict() for c in policy.checks])


@router.get("/evaluations/{run_id}", response_model=schemas.RunOut)
def get_run(session: SessionDep, principal: require(service.READ), run_id: int) -> schemas.RunOut:
    """The run with the engine's full result (null until it completes)."""
    return shown(session, service.get_run(session, principal, run_id), schemas.RunOut)


@router.get("/evaluations/{run_id}/report", response_class=HTMLResponse)
def get_report(session: SessionDep, principal: require(service.READ), run_id: int) -> HTMLResponse:
    """The engine's HTML report of a completed run (409 before it completes)."""
    run = service.get_run(session, principal, run_id)
    return HTMLResponse(service.report_html(run), headers=REPORT_HEADERS)
