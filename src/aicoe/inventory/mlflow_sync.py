"""Import registered models and their versions from an MLflow tracking server into the inventory.

A sync runs in two phases so that a failure changes nothing: ``fetch`` reads everything from MLflow (no
database), then ``apply`` compares it with the inventory and writes, audited, in the caller's transaction. Each
MLflow model version is one inventory model, matched on (``mlflow_name``, ``mlflow_version``): re-running
updates what changed and never duplicates.

What MLflow owns on a synced model and mirrors on every run: description (the version's, else the registered
model's), tags (the registered model's, overridden by the version's), aliases (those of the registered model
that point at this version), metrics (the source run's latest values; NaN and infinities are left out), the run
id and the artefact URI (the version's ``source``). The kind comes from the tag ``aicoe.kind`` (one of
``constants.MODEL_KINDS``); without that tag a new model is ``in_house`` and an existing one keeps its kind.
The business unit and owner apply to models the sync creates; existing models keep theirs. Everything else
(licence, intended use, lineage, ...) is the inventory's and never touched. Only versions whose registration
finished (status READY) are imported; models deleted in MLflow stay in the inventory.

mlflow is an optional dependency (``pip install 'aicoe[mlflow]'``), imported only when a sync runs.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor
from aicoe.core.db import begin_write
from aicoe.core.errors import Conflict, DomainError, FieldError, PermissionDenied, ServiceUnavailable, ValidationFailed
from aicoe.inventory.constants import MODEL_KINDS
from aicoe.jobs.registry import JobContext, PermanentJobError, job_handler
from aicoe.models.inventory import Model
from aicoe.models.org import BusinessUnit, User

JOB_KIND = "inventory.sync_mlflow"
KIND_TAG = "aicoe.kind"
DEFAULT_KIND = "in_house"
REQUEST_TIMEOUT_S = 10  # per HTTP request; an unreachable server fails fast instead of after MLflow's minutes
MAX_RETRIES = 0
PAGE_SIZE = 1000
MAX_NAME = Model.__table__.c.name.type.length
MAX_URI = Model.__table__.c.artefact_uri.type.length
MAX_RUN_ID = Model.__table__.c.mlflow_run_id.type.length
MAX_VERSION = Model.__table__.c.mlflow_version.type.length
MIRRORED = ("description", "tags", "aliases", "metrics", "mlflow_run_id", "artefact_uri")


@dataclass(frozen=True)
class VersionSnapshot:
    """One MLflow model version as the sync will store it."""

    name: str
    version: str
    description: str
    tags: dict[str, str]
    aliases: list[str]
    metrics: dict[str, float]
    run_id: str | None
    source: str
    kind: str | None  # from the kind tag; None when the tag is absent


@dataclass
class SyncEntry:
    model_id: int
    name: str
    version: str
    fields: list[str] = field(default_factory=list)  # for updates: the fields that changed

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass
class SyncReport:
    tracking_uri: str
    created: list[SyncEntry] = field(default_factory=list)
    updated: list[SyncEntry] = field(default_factory=list)
    unchanged: list[SyncEntry] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged "
                f"from {self.tracking_uri}")

    def as_dict(self) -> dict[str, Any]:
        return {"tracking_uri": self.tracking_uri, "created": [asdict(e) for e in self.created],
                "updated": [asdict(e) for e in self.updated], "unchanged": [asdict(e) for e in self.unchanged]}


# --- reading MLflow --------------------------------------------------------------------------------------------

def check_tracking_uri(uri: str) -> str:
    """An http(s) URL with a host: the address of a tracking server (the only kind of store synced)."""
    value = (uri or "").strip()
    try:
        parts = urlsplit(value)
        ok = parts.scheme in {"http", "https"} and bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a port that is not a number
        ok = False
    if not ok or any(c.isspace() for c in value):
        message = f"{value!r} is not an http(s) URL of an MLflow tracking server"
        raise ValidationFailed(f"bad MLflow tracking URI: {message}", errors=[FieldError("tracking_uri", message)])
    return value.rstrip("/")


_env_lock = threading.Lock()


@contextmanager
def _short_timeouts() -> Iterator[None]:
    """MLflow reads its HTTP timeout and retries from the environment on every request: set them for the
    length of one sync only (serialised, since the environment is the whole process's)."""
    wanted = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT_S),
              "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(MAX_RETRIES), "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"}
    with _env_lock:
        saved = {k: os.environ.get(k) for k in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class MlflowMissing(ServiceUnavailable):
    """The optional mlflow package is not installed."""


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MlflowMissing("MLflow sync needs the mlflow package, which is not installed; "
                                 "install it with: pip install 'aicoe[mlflow]'") from None
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _pages(call: Any, *args: Any) -> Iterator[Any]:
    token = None
    while True:
        page = call(*args, max_results=PAGE_SIZE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _filter_value(name: str) -> str:
    quote = "'" if "'" not in name else '"'
    if quote in name:
        raise ValidationFailed(f"MLflow model name {name!r} holds both kinds of quote; it cannot be searched for",
                               errors=[FieldError("model_names", f"unsupported name {name!r}")])
    return f"name={quote}{name}{quote}"


def _kind(tags: dict[str, str], label: str) -> str | None:
    kind = tags.get(KIND_TAG)
    if kind is None:
        return None
    if kind not in MODEL_KINDS:
        raise ValidationFailed(f"{label}: tag {KIND_TAG}={kind!r} is not a model kind; allowed: "
                               f"{', '.join(MODEL_KINDS)}", errors=[FieldError(KIND_TAG, f"unknown kind {kind!r}")])
    return kind


def _check_lengths(snap: VersionSnapshot) -> None:
    label = f"MLflow model {snap.name!r} version {snap.version}"
    for what, value, limit in (("name", snap.name, MAX_NAME), ("version", snap.version, MAX_VERSION),
                               ("source", snap.source, MAX_URI), ("run id", snap.run_id or "", MAX_RUN_ID)):
        if len(value) > limit:
            raise ValidationFailed(f"{label}: its {what} is longer than the inventory's {limit} characters",
                                   errors=[FieldError(what, f"longer than {limit} characters")])


def _read(client: Any, model_names: Sequence[str] | None) -> list[VersionSnapshot]:
    from mlflow.exceptions import MlflowException

    if model_names:
        registered = []
        for name in dict.fromkeys(model_names):
            try:
                registered.append(client.get_registered_model(name))
            except MlflowException as exc:
                if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
                    raise
                raise ValidationFailed(f"no registered model {name!r} on the MLflow server",
                                       errors=[FieldError("model_names", f"unknown model {name!r}")]) from None
    else:
        registered = list(_pages(client.search_registered_models))
    runs: dict[str, dict[str, float]] = {}
    out: list[VersionSnapshot] = []
    for rm in registered:
        aliases: dict[str, list[str]] = {}
        for alias, version in (rm.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for mv in _pages(client.search_model_versions, _filter_value(rm.name)):
            if mv.status != "READY":
                continue
            if mv.run_id and mv.run_id not in runs:
                runs[mv.run_id] = _run_metrics(client, mv.run_id)
            tags = {**(rm.tags or {}), **(mv.tags or {})}
            label = f"MLflow model {rm.name!r} version {mv.version}"
            snap = VersionSnapshot(
                name=rm.name, version=str(mv.version), description=mv.description or rm.description or "",
                tags=dict(sorted(tags.items())), aliases=sorted(aliases.get(str(mv.version), [])),
                metrics=runs.get(mv.run_id, {}) if mv.run_id else {}, run_id=mv.run_id or None,
                source=mv.source or "", kind=_kind(tags, label))
            _check_lengths(snap)
            out.append(snap)
    return sorted(out, key=lambda s: (s.name, int(s.version) if s.version.isdigit() else 0, s.version))


def _run_metrics(client: Any, run_id: str) -> dict[str, float]:
    """The run's latest metric values; a run deleted from the server leaves the metrics empty."""
    from mlflow.exceptions import MlflowException

    try:
        metrics = client.get_run(run_id).data.metrics
    except MlflowException as exc:
        if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return {}
        raise
    return {k: float(v) for k, v in sorted(metrics.items()) if math.isfinite(v)}


def fetch(tracking_uri: str, model_names: Sequence[str] | None = None) -> list[VersionSnapshot]:
    """Every READY version of the named registered models (all of them when none is named), read with short
    timeouts and no retries. An unreachable server or an MLflow error is ServiceUnavailable naming the URI."""
    uri = check_tracking_uri(tracking_uri)
    client = _client(uri)
    from mlflow.exceptions import MlflowException

    try:
        with _short_timeouts():
            return _read(client, model_names)
    except DomainError:
        raise
    except (MlflowException, OSError) as exc:
        raise ServiceUnavailable(f"cannot read models from the MLflow server at {uri}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


# --- writing the inventory -------------------------------------------------------------------------------------

def check_references(session: Session, business_unit_id: int, owner_id: int | None) -> None:
    errors: list[FieldError] = []
    if session.get(BusinessUnit, business_unit_id) is None:
        errors.append(FieldError("business_unit_id", f"No business unit {business_unit_id}."))
    if owner_id is not None and session.get(User, owner_id) is None:
        errors.append(FieldError("owner_id", f"No person {owner_id}."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _wanted(snap: VersionSnapshot) -> dict[str, Any]:
    values: dict[str, Any] = {"description": snap.description, "tags": snap.tags, "aliases": snap.aliases,
                              "metrics": snap.metrics, "mlflow_run_id": snap.run_id, "artefact_uri": snap.source}
    if snap.kind is not None:
        values["kind"] = snap.kind
    return values


def _existing(session: Session, snapshot: Sequence[VersionSnapshot]) -> dict[tuple[str, str], Model]:
    names = sorted({s.name for s in snapshot})
    found: dict[tuple[str, str], Model] = {}
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        for model in session.scalars(select(Model).where(Model.mlflow_name.in_(chunk))):
            found[(model.mlflow_name or "", model.mlflow_version or "")] = model
    return found


def _taken(session: Session, snapshot: Sequence[VersionSnapshot]) -> dict[tuple[str, str], int]:
    """Inventory models not linked to MLflow that already hold a (name, version) the sync would create."""
    names = sorted({s.name for s in snapshot})
    taken: dict[tuple[str, str], int] = {}
    for start in range(0, len(names), 500):
        rows = session.execute(select(Model.name, Model.version, Model.id).where(
            Model.name.in_(names[start:start + 500]), Model.mlflow_name.is_(None)))
        taken.update({(name, version): mid for name, version, mid in rows})
    return taken


def apply(session: Session, principal: Actor, snapshot: Sequence[VersionSnapshot], *, tracking_uri: str,
          business_unit_id: int, owner_id: int | None = None,
          audit_as: ledger.AuditActor | None = None) -> SyncReport:
    """Create or update one inventory model per snapshot entry. Every refusal (unknown unit or owner, a
    (name, version) already registered by hand, a model outside the caller's units) is raised before the first
    write. Flushes and audits, never commits."""
    if principal is not None:
        principal.check_unit("inventory:write", business_unit_id, hide=False)
    begin_write(session)
    check_references(session, business_unit_id, owner_id)
    existing = _existing(session, snapshot)
    taken = _taken(session, snapshot)
    creates: list[VersionSnapshot] = []
    updates: list[tuple[Model, dict[str, Any]]] = []
    report = SyncReport(tracking_uri)
    for snap in snapshot:
        model = existing.get((snap.name, snap.version))
        if model is None:
            creates.append(snap)
            continue
        changes = {k: v for k, v in _wanted(snap).items() if getattr(model, k) != v}
        if changes:
            updates.append((model, changes))
        else:
            report.unchanged.append(SyncEntry(model.id, model.name, model.version))
    clashes = [f"{s.name} v{s.version} (model {taken[(s.name, s.version)]})" for s in creates
               if (s.name, s.version) in taken]
    if clashes:
        raise Conflict("already in the inventory without an MLflow link, so the sync cannot create: "
                       + ", ".join(clashes) + "; rename or delete those models first")
    scope = principal.scope("inventory:write") if principal is not None else None
    if scope is not None:
        outside = [f"{m.name} v{m.version}" for m, _ in updates if m.business_unit_id not in scope]
        if outside:
            raise PermissionDenied("these synced models belong to business units outside your inventory:write "
                                   "grant: " + ", ".join(outside) + "; sync the other models with --model")
    actor = audit_as or audit_actor(principal)
    for snap in creates:
        model = Model(name=snap.name, version=snap.version, kind=snap.kind or DEFAULT_KIND,
                      business_unit_id=business_unit_id, owner_id=owner_id, source="mlflow",
                      mlflow_name=snap.name, mlflow_version=snap.version, **{
                          k: v for k, v in _wanted(snap).items() if k != "kind"})
        session.add(model)
        session.flush()
        ledger.append(session, actor, "create", "model", model.id, ledger.created(model))
        report.created.append(SyncEntry(model.id, model.name, model.version))
    for model, changes in updates:
        for key, value in changes.items():
            setattr(model, key, value)
        diff = ledger.changed(model)
        session.flush()
        ledger.append(session, actor, "update", "model", model.id, diff)
        report.updated.append(SyncEntry(model.id, model.name, model.version, sorted(changes)))
    report.unchanged.sort(key=lambda e: e.model_id)
    return report


def sync(session: Session, principal: Actor, tracking_uri: str, *, business_unit_id: int,
         owner_id: int | None = None, model_names: Sequence[str] | None = None,
         audit_as: ledger.AuditActor | None = None) -> SyncReport:
    """Read the server, then write the inventory (see the module's docstring). On any error nothing is written
    by this call (the server is read in full first) and the caller's transaction rolls back."""
    if principal is not None:
        principal.check_unit("inventory:write", business_unit_id, hide=False)
    uri = check_tracking_uri(tracking_uri)
    snapshot = fetch(uri, model_names)
    return apply(session, principal, snapshot, tracking_uri=uri, business_unit_id=business_unit_id,
                 owner_id=owner_id, audit_as=audit_as)


# --- the background job ----------------------------------------------------------------------------------------

def job_payload(principal: Actor, tracking_uri: str, *, business_unit_id: int, owner_id: int | None = None,
                model_names: Sequence[str] | None = None) -> dict[str, Any]:
    return {"tracking_uri": check_tracking_uri(tracking_uri), "business_unit_id": business_unit_id,
            "owner_id": owner_id, "model_names": list(model_names or []),
            "requested_by": None if principal is None else {"id": principal.user.id,
                                                            "label": principal.audit_actor.label}}


@job_handler(JOB_KIND)
def run_sync_job(ctx: JobContext) -> dict[str, Any]:
    """Runs as the system (permissions were checked when the job was queued); the audit label names the person
    who asked. An unreachable server is retried by the runner; anything else fails the job at once."""
    payload = ctx.payload
    try:
        uri = check_tracking_uri(str(payload["tracking_uri"]))
        unit_id = int(payload["business_unit_id"])
        owner_id = None if payload.get("owner_id") is None else int(payload["owner_id"])
        names = [str(n) for n in payload.get("model_names") or []]
    except (KeyError, TypeError, ValueError, ValidationFailed) as exc:
        raise PermanentJobError(f"bad MLflow sync payload: {exc}") from None
    requester = (payload.get("requested_by") or {}).get("label")
    actor = ledger.AuditActor("system", "system", f"MLflow sync for {requester}" if requester else "MLflow sync")
    ctx.progress(0.0, f"reading {uri}")
    try:
        snapshot = fetch(uri, names)
    except (ValidationFailed, MlflowMissing) as exc:  # retrying cannot help; an unreachable server may recover
        raise PermanentJobError(exc.detail) from None
    ctx.check_cancelled()
    ctx.progress(0.5, f"writing {len(snapshot)} model versions")
    try:
        with ctx.session(write=True) as session:
            report = apply(session, None, snapshot, tracking_uri=uri, business_unit_id=unit_id, owner_id=owner_id,
                           audit_as=actor)
    except (ValidationFailed, Conflict) as exc:
        raise PermanentJobError(exc.detail) from None
    ctx.progress(1.0, report.summary)
    return report.as_dict()
