"""Pydantic I/O for stage transitions, gate previews, stage timelines and success criteria."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, FiniteFloat, StringConstraints, computed_field, field_validator

from aicoe.core.schemas import Input, Output
from aicoe.portfolio.criteria import evaluate

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Comparator = Literal[">=", ">", "<=", "<", "=="]


# --- transitions ---------------------------------------------------------------------------------------------

class TransitionIn(Input):
    to_stage: str = Field(max_length=20)
    reason: Text = ""
    override_reason: Text | None = None


class OverrideIn(Input):
    to_stage: str = Field(max_length=20)
    reason: Text = ""
    override_reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class CheckOut(BaseModel):
    check: str
    label: str = ""
    ok: bool
    message: str
    overridable: bool


class TransitionOut(Output):
    id: int
    from_stage: str | None
    to_stage: str
    decided_by_id: int | None
    decided_by_label: str
    decided_at: datetime
    reason: str
    override_reason: str | None
    checks: list[CheckOut]


class GateOut(BaseModel):
    key: str
    from_stage: str
    to_stage: str
    checks: list[CheckOut]
    ok: bool = Field(description="every check passes: the move would be accepted as it stands")
    overridable: bool = Field(description="some checks fail, and every failing one may be overridden")
    can_override: bool = Field(description="the caller holds use_case:override")


class GateCheckOut(BaseModel):
    to_stage: str
    name: str
    label: str
    overridable: bool
    module: str


class StageTimeOut(BaseModel):
    stage: str
    label: str
    seconds: float
    days: float


class VisitOut(BaseModel):
    stage: str
    entered_at: datetime
    left_at: datetime | None
    seconds: float


class TimelineOut(BaseModel):
    key: str
    stage: str
    submitted_at: datetime
    production_at: datetime | None
    delivery_seconds: float | None = Field(description="intake (submission) to first entry into production")
    delivery_days: float | None
    stages: list[StageTimeOut]
    visits: list[VisitOut]


# --- success criteria --------------------------------------------------------------------------------------

Metric = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]


class CriterionCreate(Input):
    metric: Metric
    comparator: Comparator
    threshold: FiniteFloat
    unit: Unit = ""
    how_measured: Text = ""


class CriterionUpdate(Input):
    metric: Metric | None = None
    comparator: Comparator | None = None
    threshold: FiniteFloat | None = None
    unit: Unit | None = None
    how_measured: Text | None = None


class ResultIn(Input):
    value: FiniteFloat
    note: Text = ""
    link: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    evidence: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] = Field(
        default="", description="a reference to what produced the value, e.g. evaluation-run:42")

    @field_validator("link")
    @classmethod
    def _web_link(cls, value: str) -> str:
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError("a link must start with https:// or http://")
        return value


class CriterionOut(Output):
    id: int
    metric: str
    comparator: str
    threshold: float
    unit: str
    how_measured: str
    result_value: float | None
    result_note: str
    result_link: str
    result_evidence: str
    result_recorded_at: datetime | None
    result_recorded_by_id: int | None
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool | None:
        """True or False once a result is recorded; None until then."""
        return None if self.result_value is None else evaluate(self.comparator, self.result_value, self.threshold)

