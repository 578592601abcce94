"""Evaluation runs: starting one (a background job), reading runs within the caller's units, the report, the
numbers a run hands to lists, gates and PoC criteria, and runs as compliance evidence.

**Subject and scoping.** A run evaluates an AI system, a model, or a model inside a system; it belongs to the
system's business unit, else the model's, as they stand now (a system moved to another unit takes its runs
along). ``evaluation:read`` there to see it, ``evaluation:run`` to start one: a subject outside the reader's
units is answered 404, a readable one the caller may not run 403. Services flush and audit, never commit.

**Input.** An upload (``file_id``; the caller must be able to read it) or a path on the server, which
``aicoe.files.locations`` allows only inside ``data_dir/datasets`` and the ``scan_roots`` directories (the same
rule as dataset scans: one setting says what the server may read). Everything is checked before anything is
stored: the subject, the inputs, the spec against the input's columns (the schema only is read), the policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor, in_scope, scope_of
from aicoe.compliance import evidence
from aicoe.config import Settings
from aicoe.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from aicoe.core.filters import choice
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import isoformat
from aicoe.engines.evaluation import engine, report
from aicoe.engines.evaluation import io as engine_io
from aicoe.engines.evaluation import policy as engine_policy
from aicoe.engines.evaluation.drift import parse_window
from aicoe.engines.evaluation.errors import EvaluationError
from aicoe.engines.evaluation.spec import Options
from aicoe.evaluation import schemas
from aicoe.files import service as files_service
from aicoe.files.locations import refuse, resolve_location
from aicoe.jobs import service as jobs_service
from aicoe.jobs.records import shown_statuses
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.files import StoredFile
from aicoe.models.inventory import AISystem, Model
from aicoe.models.jobs import Job

READ, RUN = "evaluation:read", "evaluation:run"
JOB_KIND = "evaluation.run"
STATUSES: dict[str, str] = {"queued": "Queued", "running": "Running", "completed": "Completed", "failed": "Failed",
                            "cancelled": "Cancelled"}
SORT_COLUMNS: dict[str, Any] = {"created_at": EvaluationRun.created_at, "finished_at": EvaluationRun.finished_at,
                                "status": EvaluationRun.status, "name": func.lower(EvaluationRun.name)}

NO_RUN = "no evaluation run {run_id}"
NO_SUBJECT = "an evaluation run needs an AI system, a model, or both"
NO_SYSTEM = "no AI system {id}"
NO_MODEL = "no model {id}"
NO_INPUT = "give the predictions as an uploaded file (file_id) or a path on the server (path)"
TWO_INPUTS = "give the {what} as an uploaded file or as a path, not both"
NO_FILE = "No uploaded file {file_id}."
POLICY_AND_TEMPLATE = "give a policy or a policy template, not both"
UNKNOWN_TEMPLATE = "unknown policy template {name!r}; built-in templates: {names}"
NO_RESULT = "evaluation run {run_id} has no result: it is {status}"
NOT_A_RUN_METRIC = ("{metric!r} is not one number of a run; use an overall performance metric, a fairness group "
                    "metric or disparity, four_fifths_ratio, drift_share or dataset_drift")
METRIC_UNDEFINED = "evaluation run {run_id} has no value for {metric}: {reason}"

# the spec's fields whose columns must exist in the input, in the order they are checked
SPEC_COLUMNS = ("label", "prediction", "scores", "sensitive", "weight", "timestamp", "segment", "features")


# --- reading ---------------------------------------------------------------------------------------------------

_RunSystem, _RunModel = aliased(AISystem), aliased(Model)


def run_unit() -> ColumnElement[int]:
    """A run's business unit as its subject stands now: the system's, else the model's."""
    return func.coalesce(_RunSystem.business_unit_id, _RunModel.business_unit_id)


def runs_query(principal: Actor, permission: str = READ) -> Select[tuple[EvaluationRun]]:
    """Runs whose subject lies in the units where the principal holds ``permission``."""
    return (select(EvaluationRun)
            .outerjoin(_RunSystem, _RunSystem.id == EvaluationRun.ai_system_id)
            .outerjoin(_RunModel, _RunModel.id == EvaluationRun.model_id)
            .where(in_scope(run_unit(), scope_of(principal, permission)))
            .options(selectinload(EvaluationRun.ai_system), selectinload(EvaluationRun.model)))


def get_run(session: Session, principal: Actor, run_id: int) -> EvaluationRun:
    run = session.scalar(runs_query(principal).where(EvaluationRun.id == run_id))
    if run is None:
        raise NotFound(NO_RUN.format(run_id=run_id))
    return run


def _newest(stmt: Select[tuple[EvaluationRun]]) -> Select[tuple[EvaluationRun]]:
    return stmt.order_by(EvaluationRun.created_at.desc(), EvaluationRun.id.desc())


def list_runs(session: Session, principal: Actor, params: PageParams, *, ai_system_id: int | None = None,
              model_id: int | None = None, status: str | None = None) -> Page[EvaluationRun]:
    """Newest first; sort by created_at, finished_at, status or name ('-' for descending)."""
    stmt = runs_query(principal)
    if ai_system_id is not None:
        stmt = stmt.where(EvaluationRun.ai_system_id == ai_system_id)
    if model_id is not None:
        stmt = stmt.where(EvaluationRun.model_id == model_id)
    if choice("status", status, STATUSES):
        stmt = stmt.where(EvaluationRun.status == status)
    return paginate(session, apply_sort(stmt, params.sort, SORT_COLUMNS,
                                        [EvaluationRun.created_at.desc(), EvaluationRun.id.desc()]), params)


def recent_runs(session: Session, principal: Actor, limit: int = 20) -> list[EvaluationRun]:
    return list(session.scalars(_newest(runs_query(principal)).limit(limit)))


def runs_for_system(session: Session, principal: Actor, system_id: int, limit: int = 10) -> list[EvaluationRun]:
    stmt = runs_query(principal).where(EvaluationRun.ai_system_id == system_id)
    return list(session.scalars(_newest(stmt).limit(limit)))


def runs_for_model(session: Session, principal: Actor, model_id: int, limit: int = 10) -> list[EvaluationRun]:
    stmt = runs_query(principal).where(EvaluationRun.model_id == model_id)
    return list(session.scalars(_newest(stmt).limit(limit)))


def statuses(session: Session, runs: list[EvaluationRun]) -> dict[int, str]:
    """Each status as shown (``aicoe.jobs.records.shown_statuses``)."""
    return shown_statuses(session, runs)


def subject_label(run: EvaluationRun) -> str:
    """The system and/or model evaluated, e.g. "Credit Decision Engine (model credit-gbm 3)"."""
    model = f"model {run.model.name} {run.model.version}" if run.model is not None else ""
    if run.ai_system is None:
        return model
    return f"{run.ai_system.name} ({model})" if model else run.ai_system.name


def report_html(run: EvaluationRun) -> str:
    """The engine's self-contained HTML report of a completed run, rendered from the stored result."""
    if run.result is None:
        raise Conflict(NO_RESULT.format(run_id=run.id, status=run.status))
    return report.render_html(run.result, title=f"Evaluation run {run.id}: {run.name}")


# --- the numbers a run hands on --------------------------------------------------------------------------------

def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The few numbers lists and cards show: accuracy (or r2), roc_auc, the largest between-group difference,
    the four-fifths ratio and the drift share, each only where the result defines it."""
    out: dict[str, Any] = {}
    overall = (result.get("performance") or {}).get("overall") or {}
    for key in ("accuracy", "r2", "roc_auc"):
        if overall.get(key) is not None:
            out[key] = overall[key]
    fairness = result.get("fairness") or {}
    differences = [(name, d["between_groups"]) for name, d in sorted((fairness.get("disparities") or {}).items())
                   if name.endswith("_difference") and d.get("between_groups") is not None]
    if differences:
        name, value = max(differences, key=lambda item: item[1])
        out["worst_disparity"], out["worst_disparity_value"] = name, value
    ratio = (fairness.get("four_fifths") or {}).get("ratio")
    if ratio is not None:
        out["four_fifths_ratio"] = ratio
    drift = result.get("drift") or {}
    if drift.get("drift_share") is not None:
        out["drift_share"], out["dataset_drift"] = drift["drift_share"], drift.get("dataset_drift")
    return out


def metric_value(run: EvaluationRun, metric: str) -> float:
    """One overall number of a completed run, looked up as the engine's policies look it up (a disparity
    between groups); refused when the run has not completed or the value is undefined (with the reason)."""
    if run.status != "completed" or run.result is None:
        raise refuse("run_id", NO_RESULT.format(run_id=run.id, status=run.status))
    info = engine_policy.METRICS.get(metric)
    if info is None or "overall" not in info.scopes:
        raise refuse("metric", NOT_A_RUN_METRIC.format(metric=metric))
    value, reason = engine_policy.overall_value(run.result, metric)
    if value is None:
        raise refuse("metric", METRIC_UNDEFINED.format(run_id=run.id, metric=metric, reason=reason))
    return float(value)


# --- starting a run --------------------------------------------------------------------------------------------

def _visible(session: Session, principal: Actor, entity: type[AISystem] | type[Model], entity_id: int,
             message: str, field: str) -> AISystem | Model:
    row = session.scalar(select(entity).where(entity.id == entity_id,
                                              in_scope(entity.business_unit_id, scope_of(principal, READ))))
    if row is None:
        text = message.format(id=entity_id)
        raise NotFound(text, errors=[FieldError(field, text[0].upper() + text[1:] + ".")])
    return row


def _subject(session: Session, principal: Actor, data: schemas.RunCreate) -> int:
    """The run's business unit, once the caller may see its subject (404) and run evaluations there (403)."""
    if data.ai_system_id is None and data.model_id is None:
        raise refuse("ai_system_id", NO_SUBJECT)
    system = model = None
    if data.ai_system_id is not None:
        system = _visible(session, principal, AISystem, data.ai_system_id, NO_SYSTEM, "ai_system_id")
    if data.model_id is not None:
        model = _visible(session, principal, Model, data.model_id, NO_MODEL, "model_id")
    unit_id = system.business_unit_id if system is not None else model.business_unit_id  # type: ignore[union-attr]
    if principal is not None:
        principal.check_unit(RUN, unit_id, hide=False)
    return unit_id


def _upload(session: Session, principal: Actor, file_id: int, field: str) -> StoredFile:
    stored: StoredFile | None = session.get(StoredFile, file_id)
    if stored is not None and principal is not None:
        try:
            stored = files_service.get(session, principal, file_id)  # an upload the caller may read
        except NotFound:
            stored = None
    if stored is None:
        message = NO_FILE.format(file_id=file_id)
        raise ValidationFailed(message, errors=[FieldError(field, message)])
    return stored


def _check_spec(data: schemas.RunCreate, has_reference: bool) -> None:
    """The engine's rules for a spec (its messages), each on the field to correct; the job checks them again."""
    spec = data.spec
    if spec.label is not None and spec.prediction is None:
        raise refuse("spec.prediction", engine.LABEL_WITHOUT_PREDICTION.format(label=spec.label))
    if spec.sensitive and spec.label is None:
        raise refuse("spec.sensitive", engine.FAIRNESS_NEEDS_LABEL.format(features=", ".join(spec.sensitive)))
    if spec.label is None and not has_reference:
        raise refuse("spec.label", engine.NOTHING_TO_EVALUATE)
    window = data.options.drift_window
    if has_reference and window is not None:
        try:
            parse_window(window)
        except EvaluationError as exc:
            raise refuse("options.drift_window", str(exc)) from None
        if spec.timestamp is None:
            raise refuse("spec.timestamp", engine.WINDOW_NEEDS_TIMESTAMP.format(window=window))


def _policy_text(data: schemas.RunCreate) -> str:
    """The policy the run checks (a template's YAML copied in, so the run keeps it), validated by the engine."""
    if data.policy.strip() and data.policy_template:
        raise refuse("policy_template", POLICY_AND_TEMPLATE)
    text = data.policy
    if data.policy_template:
        known = engine_policy.templates()
        if data.policy_template not in known:
            raise refuse("policy_template", UNKNOWN_TEMPLATE.format(name=data.policy_template,
                                                                   names=", ".join(known)))
        text = known[data.policy_template]
    if text.strip():
        check_policy(text)
    return text if text.strip() else ""


def check_policy(text: str) -> engine_policy.Policy:
    """The policy as the engine loads it; its error is reported on the ``policy`` field."""
    try:
        return engine_policy.load_policy(text)
    except EvaluationError as exc:
        raise ValidationFailed(str(exc), errors=[FieldError("policy", str(exc))]) from None


def _columns(path: Path, field: str) -> list[str]:
    """The input's column names, from its schema (no row is read)."""
    try:
        return list(engine_io.open_source(path, None, Options()).schema.names)
    except EvaluationError as exc:
        raise refuse(field, str(exc)) from None


def check_columns(spec: schemas.SpecIn, available: list[str], *, reference: bool = False) -> None:
    """Every column the spec names exists (the reference needs only the drift features), with the engine's
    message, on the spec field that names it."""
    fields = ("features",) if reference else SPEC_COLUMNS
    for field in fields:
        value = getattr(spec, field)
        for column in [value] if isinstance(value, str) else value or []:
            if column not in available:
                message = engine_io.MISSING_COLUMN.format(column=column, available=", ".join(available))
                raise refuse("reference_path" if reference else f"spec.{field}", message)


def _source(session: Session, principal: Actor, settings: Settings, directory: Path, file_id: int | None,
            path: str | None, fields: tuple[str, str]) -> tuple[str, int | None, Path]:
    """(source, file_id, local path) of one input: an upload copied into ``directory``, or an allowed path."""
    if file_id is not None:
        stored = _upload(session, principal, file_id, fields[0])
        (directory / fields[0]).mkdir()
        return f"file:{stored.id}", stored.id, files_service.copy_out(settings, stored, directory / fields[0])
    assert path is not None
    return path, None, resolve_location(path, settings, fields[1])


def _inputs(session: Session, principal: Actor, settings: Settings,
            data: schemas.RunCreate) -> tuple[tuple[str, int | None], tuple[str, int | None]]:
    """((source, file_id), (reference source, reference file_id)), checked against the spec."""
    if data.file_id is None and data.path is None:
        raise refuse("file_id", NO_INPUT)
    if data.file_id is not None and data.path is not None:
        raise refuse("path", TWO_INPUTS.format(what="predictions"))
    if data.reference_file_id is not None and data.reference_path is not None:
        raise refuse("reference_path", TWO_INPUTS.format(what="reference"))
    has_reference = data.reference_file_id is not None or data.reference_path is not None
    _check_spec(data, has_reference)
    with files_service.private_workdir(settings, "eval-check-") as directory:
        source, file_id, local = _source(session, principal, settings, directory, data.file_id, data.path,
                                         ("file_id", "path"))
        check_columns(data.spec, _columns(local, "path" if data.path else "file_id"))
        if not has_reference:
            return (source, file_id), ("", None)
        ref_source, ref_id, ref_local = _source(session, principal, settings, directory, data.reference_file_id,
                                                data.reference_path, ("reference_file_id", "reference_path"))
        check_columns(data.spec, _columns(ref_local, "reference_path" if data.reference_path
                                           else "reference_file_id"), reference=True)
        return (source, file_id), (ref_source, ref_id)


def new_run(session: Session, principal: Actor, settings: Settings, data: schemas.RunCreate) -> EvaluationRun:
    """Record a queued run, once the subject, the inputs, the spec and the policy have been checked."""
    unit_id = _subject(session, principal, data)
    policy = _policy_text(data)
    (source, file_id), (ref_source, ref_id) = _inputs(session, principal, settings, data)
    run = EvaluationRun(name=data.name, ai_system_id=data.ai_system_id, model_id=data.model_id,
                        business_unit_id=unit_id, source=source, file_id=file_id, reference_source=ref_source,
                        reference_file_id=ref_id, spec=data.spec.model_dump(), options=data.options.model_dump(),
                        policy=policy, engine=data.engine, gate=data.gate, status="queued", checks_total=0,
                        checks_failed=0, headline={}, error="",
                        requested_by_id=principal.user.id if principal is not None else None)
    session.add(run)
    session.flush()
    ledger.append(session, audit_actor(principal), "create", "evaluation_run", run.id, ledger.created(run))
    return run


def start_run(session: Session, principal: Actor, settings: Settings,
              data: schemas.RunCreate) -> tuple[EvaluationRun, Job]:
    """Queue a run and the job that computes it; both become visible when the caller commits."""
    run = new_run(session, principal, settings, data)
    job = jobs_service.enqueue(session, principal if principal is not None else ledger.SYSTEM, JOB_KIND,
                               {"run_id": run.id}, max_attempts=2)
    run.job_id = job.id
    session.flush()
    return run, job


# --- runs as evidence ------------------------------------------------------------------------------------------

RUN_BY_NUMBER = "Evaluation runs are referenced by their number."
RUN_MISSING = "Evaluation run {ref!r} does not exist."
VERDICTS = {True: "every policy check passed", False: "{failed} of {total} policy checks failed", None: "no policy"}


def run_snapshot(session: Session, ref: str) -> dict[str, Any]:
    """What a run established, for evidence: its subject, inputs' hashes, policy checks and headline numbers."""
    if not ref.strip().isdigit():
        raise ValidationFailed(RUN_BY_NUMBER, errors=[FieldError("record_ref", RUN_BY_NUMBER)])
    run = session.get(EvaluationRun, int(ref))
    if run is None:
        message = RUN_MISSING.format(ref=ref)
        raise NotFound(message[:-1], errors=[FieldError("record_ref", message)])
    subject = run.ai_system if run.ai_system is not None else run.model
    verdict = VERDICTS[run.passed].format(failed=run.checks_failed, total=run.checks_total)
    checks = [[c.get("metric"), c.get("value"), c.get("passed")] for c in (run.result or {}).get("checks", [])]
    return {"label": f"Evaluation run {run.id} ({run.name}) of {subject_label(run)}: {run.status}, {verdict}",
            "business_unit_id": subject.business_unit_id if subject is not None else None,
            "ai_system_id": run.ai_system_id, "model_id": run.model_id,
            "status": run.status, "rows": run.rows, "input_sha256": run.input_sha256,
            "fingerprint": run.fingerprint, "passed": run.passed, "checks": checks, "headline": run.headline,
            "finished_at": isoformat(run.finished_at) if run.finished_at else None}


evidence.register_record_type("evaluation_run", run_snapshot)
