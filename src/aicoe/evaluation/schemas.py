"""Pydantic I/O for evaluation runs, the policy endpoints and a PoC criterion's result taken from a run.

The schemas check types and sizes only; the rules that span fields (a subject, one input, the spec against the
input's columns, the policy) are the service's, so a page and the API report them on the same fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from aicoe.core.schemas import Input, Output

MAX_POLICY_CHARS = 100_000
Column = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Columns = Annotated[list[Column], Field(max_length=200)]
Location = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
PolicyText = Annotated[str, Field(max_length=MAX_POLICY_CHARS)]


class SpecIn(Input):
    """Which columns mean what (the engine's ``ColumnSpec``). Without label and prediction a run only compares
    the input with its reference (drift)."""

    label: Column | None = None
    prediction: Column | None = None
    scores: Columns = Field(default_factory=list)
    sensitive: Columns = Field(default_factory=list)
    weight: Column | None = None
    timestamp: Column | None = None
    segment: Column | None = None
    features: Columns | None = None
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    classes: Annotated[list[Column], Field(max_length=1000)] = Field(default_factory=list)


class OptionsIn(Input):
    min_group_size: Annotated[int, Field(ge=1, le=1_000_000_000)] = 30
    bootstrap: Annotated[int, Field(ge=0, le=10_000)] = 1000
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    drift_window: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)] | None = None


class RunCreate(Input):
    """An evaluation of an AI system and/or a model. The predictions come from an upload (``file_id``) or a path
    the server may read (``path``); likewise the optional reference for drift. ``policy`` (YAML) or
    ``policy_template`` (a built-in policy's name) sets the checks; ``gate``: a failed check blocks the use
    case's move into pilot or production."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    ai_system_id: int | None = None
    model_id: int | None = None
    file_id: int | None = None
    path: Location | None = None
    reference_file_id: int | None = None
    reference_path: Location | None = None
    spec: SpecIn
    options: OptionsIn = Field(default_factory=OptionsIn)
    policy: PolicyText = ""
    policy_template: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    engine: Literal["local", "ray"] = "local"
    gate: bool = True


class Ref(Output):
    id: int
    name: str


class ModelRef(Ref):
    version: str


class RunSummary(Output):
    id: int
    name: str
    ai_system: Ref | None
    model: ModelRef | None
    business_unit_id: int
    source: str
    file_id: int | None
    reference_source: str
    reference_file_id: int | None
    spec: dict[str, Any]
    options: dict[str, Any]
    policy: str
    engine: str
    gate: bool
    job_id: int | None
    status: str
    rows: int | None
    input_sha256: str | None
    fingerprint: str | None
    passed: bool | None
    checks_total: int
    checks_failed: int
    headline: dict[str, Any]
    error: str
    requested_by_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunOut(RunSummary):
    """A run with the engine's full result (``null`` until it completes); see docs/evaluation.md for its shape."""

    result: dict[str, Any] | None


class RunStarted(Output):
    run: RunSummary
    job_id: int
    job_url: str


class PolicyIn(Input):
    policy: PolicyText


class PolicyChecksOut(Output):
    """The checks a policy defines, as the engine parsed them."""

    name: str
    checks: list[dict[str, Any]]


class ResultFromRunIn(Input):
    """Take a PoC criterion's result from a completed run: ``metric`` is an overall performance metric, a
    fairness disparity (between groups), ``four_fifths_ratio`` or ``drift_share``; empty: the criterion's own
    metric name."""

    run_id: int
    metric: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = None
