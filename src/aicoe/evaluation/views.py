"""HTML pages for evaluation runs: the list, the new-run form (an upload or a server path, the column spec, the
options and the policy), one run (progress, policy checks, the engine's report in a sandboxed frame), and the
panel on the AI system page.

The report is the engine's own HTML; it is served from its own route with a strict Content-Security-Policy and
shown in an ``<iframe sandbox>``, so nothing in a prediction log (a group name, a column name) can run script
in the platform's pages.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from aicoe.auth.deps import require
from aicoe.auth.principal import Principal, in_scope
from aicoe.config import Settings
from aicoe.core.deps import SessionDep, SettingsDep
from aicoe.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from aicoe.core.pagination import PageParams
from aicoe.engines.evaluation import policy as engine_policy
from aicoe.evaluation import schemas, service
from aicoe.files import service as files_service
from aicoe.files import uploads
from aicoe.files.store import human_size
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.files import StoredFile
from aicoe.models.inventory import AISystem, Model
from aicoe.models.jobs import Job
from aicoe.web import forms, pages
from aicoe.web.panels import Panel

router = APIRouter()

PAGE_SIZE = 25
PANEL_RUNS = 5
REFRESH_SECONDS = 5
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Filter = Annotated[str | None, Query(max_length=40)]
STATUS_BADGES = {"completed": "on", "failed": "off", "cancelled": "off", "running": "st info"}
STATUSES = {"queued": "Queued", "running": "Running", "completed": "Completed", "failed": "Failed",
            "cancelled": "Cancelled"}
TASKS = {"auto": "Detect from the label", "binary": "Binary classification", "multiclass": "Multiclass classification",
         "regression": "Regression"}
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
CHOOSE_SOURCE = "Upload a predictions file or enter a path the server can read."
BOTH_SOURCES = "Upload a file or enter a path, not both."
# form field -> the schema field it fills, for errors the service reports by schema name
FIELD_OF = {"file_id": "file", "reference_file_id": "reference_file"}
SPEC_FIELDS = ("label", "prediction", "weight", "timestamp", "segment")
LIST_FIELDS = ("scores", "sensitive", "classes")
OPTION_FIELDS = ("min_group_size", "bootstrap", "drift_window")


def _labels() -> dict[str, Any]:
    return {"status_badges": STATUS_BADGES, "status_labels": STATUSES, "task_labels": TASKS}


def _subjects(session: Session, principal: Principal, permission: str) -> tuple[list[Any], list[Any]]:
    """(id, label) of the AI systems and models in the units where the principal holds ``permission``."""
    scope = principal.scope(permission) if principal.has(permission) else frozenset()
    systems = session.execute(select(AISystem.id, AISystem.name).where(in_scope(AISystem.business_unit_id, scope))
                              .order_by(AISystem.name))
    models = session.execute(select(Model.id, Model.name, Model.version)
                             .where(in_scope(Model.business_unit_id, scope)).order_by(Model.name, Model.version))
    return [(i, n) for i, n in systems], [(i, f"{n} {v}") for i, n, v in models]


# --- the list --------------------------------------------------------------------------------------------------

@router.get("/evaluations")
def list_page(request: Request, session: SessionDep, principal: require(service.READ), status: Filter = None,
              ai_system_id: Filter = None, model_id: Filter = None, offset: Offset = 0) -> HTMLResponse:
    chosen = (status or "").strip()
    if chosen and chosen not in STATUSES:
        raise ValidationFailed(f"unknown status {chosen!r}", errors=[FieldError("status", "Not a valid choice.")])
    system_id, subject_model_id = forms.query_id(ai_system_id, "ai_system_id"), forms.query_id(model_id, "model_id")
    page = service.list_runs(session, principal, PageParams(limit=PAGE_SIZE, offset=offset),
                             ai_system_id=system_id, model_id=subject_model_id, status=chosen or None)
    system = session.get(AISystem, system_id) if system_id is not None else None
    model = session.get(Model, subject_model_id) if subject_model_id is not None else None
    return pages.render(request, "evaluation/runs.html", {
        **_labels(), "page": page, "statuses": service.statuses(session, list(page.items)),
        "status_options": list(STATUSES.items()),
        "form": {"status": chosen, "ai_system_id": system_id or "", "model_id": subject_model_id or ""},
        "system": system if system is not None and principal.may(service.READ, system.business_unit_id) else None,
        "model": model if model is not None and principal.may(service.READ, model.business_unit_id) else None,
        "base_url": forms.query_url("/evaluations", status=chosen, ai_system_id=system_id,
                                    model_id=subject_model_id),
        "can_run": principal.has(service.RUN)})


# --- a new run -------------------------------------------------------------------------------------------------

def _new_page(request: Request, session: Session, settings: Settings, principal: Principal,
              values: dict[str, Any], err: DomainError | None = None) -> HTMLResponse:
    systems, models = _subjects(session, principal, service.RUN)
    templates = engine_policy.templates()
    context = {**_labels(), "system_options": systems, "model_options": models,
               "task_options": list(TASKS.items()), "template_options": [(n, n) for n in sorted(templates)],
               "templates": templates, "max_upload": human_size(settings.max_upload_bytes)}
    if err is not None:
        return pages.form_error(request, "evaluation/new.html", err, values, context)
    return pages.render(request, "evaluation/new.html", {**context, "form": values})


@router.get("/evaluations/new")
def new_page(request: Request, session: SessionDep, settings: SettingsDep, principal: require(service.RUN),
             ai_system_id: Filter = None, model_id: Filter = None) -> HTMLResponse:
    values = {"ai_system_id": forms.query_id(ai_system_id, "ai_system_id") or "",
              "model_id": forms.query_id(model_id, "model_id") or "", "task": "auto", "gate": "on",
              "min_group_size": "30", "bootstrap": "1000"}
    return _new_page(request, session, settings, principal, values)


def _list(form: forms.FormData, name: str) -> list[str]:
    """A comma-separated field as its non-empty items."""
    return [item.strip() for item in forms.text(form, name).split(",") if item.strip()]


def _upload(form: forms.FormData, name: str) -> UploadFile | None:
    part = form.get(name)
    return part if isinstance(part, UploadFile) and part.filename else None


def _source_error(form: forms.FormData, file_field: str, path_field: str, *, required: bool) -> FieldError | None:
    """A source given twice, or (when ``required``) not at all."""
    given = _upload(form, file_field) is not None, bool(forms.text(form, path_field))
    if all(given):
        return FieldError(file_field, BOTH_SOURCES)
    if required and not any(given):
        return FieldError(file_field, CHOOSE_SOURCE)
    return None


def _check(form: forms.FormData, data: dict[str, Any]) -> None:
    """Refuse the form with every field error at once, next to its field (a nested spec or options error is
    reported by the part's own schema, under the form field's name)."""
    errors: list[FieldError] = []
    for model, values in ((schemas.SpecIn, data["spec"]), (schemas.OptionsIn, data["options"]),
                          (schemas.RunCreate, data)):
        try:
            forms.parse(model, values)
        except ValidationFailed as err:
            errors += [e for e in err.errors if e.field not in ("spec", "options")]
    errors += [e for e in (_source_error(form, "file", "path", required=True),
                           _source_error(form, "reference_file", "reference_path", required=False)) if e]
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _store(session: Session, settings: Settings, principal: Principal, form: forms.FormData,
           name: str) -> int | None:
    part = _upload(form, name)
    if part is None:
        return None
    return files_service.save(session, principal, files_service.store_for(settings), part.file,
                              filename=part.filename, declared_type=part.content_type,
                              max_bytes=settings.max_upload_bytes).id


def _run_request(session: Session, settings: Settings, principal: Principal,
                 form: forms.FormData) -> schemas.RunCreate:
    """The form as a run request. Everything typed is checked before an upload is stored, so a form refused for
    what was typed leaves nothing behind."""
    spec: dict[str, Any] = {k: v for k in SPEC_FIELDS if (v := forms.text(form, k))}
    spec |= {k: _list(form, k) for k in LIST_FIELDS} | {"task": forms.text(form, "task") or "auto"}
    data: dict[str, Any] = {
        "name": forms.text(form, "name"), "ai_system_id": forms.optional_int(form, "ai_system_id"),
        "model_id": forms.optional_int(form, "model_id"), "path": forms.text(form, "path") or None,
        "reference_path": forms.text(form, "reference_path") or None, "spec": spec,
        "options": {k: v for k in OPTION_FIELDS if (v := forms.text(form, k))},
        "policy": forms.text(form, "policy"), "policy_template": forms.text(form, "policy_template") or None,
        "gate": forms.text(form, "gate") == "on"}
    _check(form, data)
    data |= {"file_id": _store(session, settings, principal, form, "file"),
             "reference_file_id": _store(session, settings, principal, form, "reference_file")}
    return forms.parse(schemas.RunCreate, data)


@router.post("/evaluations/new", dependencies=[Depends(uploads.default_size_guard)])
def create(request: Request, session: SessionDep, settings: SettingsDep, form: forms.FormDep,
           principal: require(service.RUN)) -> Response:
    try:
        run, _job = service.start_run(session, principal, settings, _run_request(session, settings, principal, form))
    except DomainError as err:
        session.rollback()
        for e in err.errors:
            field = e.field.removeprefix("spec.").removeprefix("options.")
            e.field = FIELD_OF.get(field, field)
        return _new_page(request, session, settings, principal, {**forms.values(form)}, err)
    return pages.redirect(request, f"/evaluations/{run.id}",
                          f"Evaluation run {run.id} ({run.name}) queued; this page shows its progress.")


# --- one run ---------------------------------------------------------------------------------------------------

def _file_name(session: Session, file_id: int | None) -> str | None:
    return session.scalar(select(StoredFile.filename).where(StoredFile.id == file_id)) if file_id else None


@router.get("/evaluations/{run_id}")
def run_page(request: Request, session: SessionDep, principal: require(service.READ), run_id: int) -> Response:
    run = service.get_run(session, principal, run_id)
    job = session.get(Job, run.job_id) if run.job_id is not None else None
    status = service.statuses(session, [run])[run.id]
    result = run.result or {}
    response = pages.render(request, "evaluation/run.html", {
        **_labels(), "run": run, "job": job, "status": status, "result": result,
        "checks": result.get("checks") or [], "warnings": result.get("warnings") or [],
        "upload_name": _file_name(session, run.file_id),
        "reference_name": _file_name(session, run.reference_file_id),
        "system_visible": run.ai_system is not None and principal.may("inventory:read",
                                                                      run.ai_system.business_unit_id),
        "model_visible": run.model is not None and principal.may("inventory:read", run.model.business_unit_id),
        "can_cite": principal.has("compliance:write"), "refresh": REFRESH_SECONDS})
    if status in ("queued", "running"):
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@router.get("/evaluations/{run_id}/report")
def report_page(session: SessionDep, principal: require(service.READ), run_id: int) -> HTMLResponse:
    """The engine's HTML report, for the run page's sandboxed frame (or a tab of its own)."""
    run: EvaluationRun = service.get_run(session, principal, run_id)
    if not run.result:
        raise NotFound(f"evaluation run {run.id} has no report yet: it is {run.status}")
    return HTMLResponse(service.report_html(run), headers={"Content-Security-Policy": REPORT_CSP,
                                                           "X-Content-Type-Options": "nosniff"})


# --- the AI system page's panel --------------------------------------------------------------------------------

def system_panel(session: Session, principal: Principal, system: AISystem) -> Panel | None:
    """The system's latest evaluation runs with their policy outcome."""
    if not principal.may(service.READ, system.business_unit_id):
        return None
    runs = service.runs_for_system(session, principal, system.id, limit=PANEL_RUNS)
    return Panel("Evaluations", "evaluation/_system_panel.html", {
        **_labels(), "system": system, "runs": runs, "statuses": service.statuses(session, runs),
        "can_run": principal.may(service.RUN, system.business_unit_id)})
