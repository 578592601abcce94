"""Pydantic I/O for assessments, their per-requirement results, the gap list and the compliance summary.

Unknown fields are refused and statuses are closed vocabularies. Rules that need the database (the framework
is the current version, the system is visible and writable, a not-applicable result has a justification, a
rule-excluded result keeps its status) are the service's, which names the field too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, StringConstraints

from aicoe.core.schemas import Input, Output

Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
RequiredTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
ResultStatus = Literal["not_started", "in_progress", "met", "partially_met", "not_met", "not_applicable"]


# --- input -------------------------------------------------------------------------------------------------------

class AssessmentCreate(Input):
    """``title`` defaults to "<framework name> — <system name>"."""

    ai_system_id: int
    framework_id: int
    title: Title = ""
    owner_id: int | None = None
    due_date: date | None = None


class AssessmentUpdate(Input):
    title: RequiredTitle | None = None
    owner_id: int | None = None
    due_date: date | None = None


class ResultUpdate(Input):
    """Every field optional. ``not_applicable`` needs a justification (sent now or already recorded)."""

    status: ResultStatus | None = None
    owner_id: int | None = None
    due_date: date | None = None
    notes: Text | None = None
    justification: Text | None = None


class EvidenceLinkIn(Input):
    evidence_id: int


# --- output ------------------------------------------------------------------------------------------------------

class Ref(Output):
    id: int
    name: str


class PersonRef(Output):
    id: int
    full_name: str


class FrameworkRef(Output):
    id: int
    key: str
    name: str
    version: str


class RequirementRef(Output):
    id: int
    ref: str
    title: str
    kind: str
    parent_id: int | None


class InferredRequirement(RequirementRef):
    framework: FrameworkRef


class InferredFrom(Output):
    """The result in another assessment of the same system whose outcome was offered here."""

    id: int
    assessment_id: int
    status: str
    requirement: InferredRequirement


class AssessmentSummary(Output):
    id: int
    title: str
    status: str
    ai_system: Ref
    framework: FrameworkRef
    owner: PersonRef | None
    due_date: date | None
    completion: float
    compliance: float
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class AssessmentOut(AssessmentSummary):
    profile: dict[str, Any]
    counts: dict[str, int]  # applicable results by status, plus "out_of_scope" and "inferred"


class ResultOut(Output):
    id: int
    assessment_id: int
    requirement: RequirementRef
    applicable: bool
    applicability_reason: str
    status: str
    justification: str
    owner: PersonRef | None
    due_date: date | None
    notes: str
    inferred_from: InferredFrom | None
    updated_at: datetime


class RefreshOut(BaseModel):
    assessment: AssessmentOut
    included: list[str]
    excluded: list[str]
    reasons_updated: list[str]


class GapOut(BaseModel):
    kind: Literal["not_met", "overdue", "partially_met"]
    result_id: int
    status: str
    inferred: bool
    due_date: date | None
    owner: PersonRef | None
    requirement: RequirementRef
    assessment: Ref
    ai_system: Ref
    framework: FrameworkRef


class TallyOut(BaseModel):
    assessments: int
    applicable: int
    decided: int
    met: int
    partially_met: int
    not_applicable: int
    completion: float
    compliance: float


class FrameworkTally(TallyOut):
    framework: FrameworkRef


class SystemTally(TallyOut):
    ai_system: Ref


class SummaryOut(BaseModel):
    frameworks: list[FrameworkTally]
    systems: list[SystemTally]


class EvidenceLinkOut(Output):
    id: int
    evidence_id: int
    target_type: str
    target_id: int
    created_at: datetime
