"""Pydantic I/O for risks, the heat map and the scoring matrix.

Vocabularies (category, subject type, treatment, status) are checked here with messages that list the allowed
values; rules that need the matrix or the database (positions on the axes, residual not above inherent, the
subject existing within the caller's units, acceptance rules) are checked by the service, which names the field.
Outputs read the service's ``RiskView`` (scores with their labels and levels, the subject resolved).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from aicoe.core.schemas import Input, Output
from aicoe.risk.constants import CATEGORIES, SUBJECT_TYPES, TREATMENTS


def _one_of(vocabulary: Mapping[str, str]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in vocabulary:
            raise ValueError(f"unknown value {value!r}; allowed: {', '.join(vocabulary)}")
        return value
    return AfterValidator(check)


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Category = Annotated[str, _one_of(CATEGORIES)]
SubjectType = Annotated[str, _one_of(SUBJECT_TYPES)]
Treatment = Annotated[str, _one_of(TREATMENTS)]
Position = Annotated[int, Field(ge=1, le=10)]
# "accepted" is reached only through the acceptance action, never set directly.
SettableStatus = Literal["open", "treating", "closed"]
Ids = Annotated[list[int], Field(max_length=200)]


class RiskCreate(Input):
    """``business_unit_id`` is for vendor risks only (vendors are shared across units, so a vendor risk names the
    unit that carries it); every other risk takes the unit of its subject."""

    title: Title
    description: Text = ""
    category: Category
    subject_type: SubjectType
    subject_id: int
    business_unit_id: int | None = None
    owner_id: int | None = None
    inherent_likelihood: Position
    inherent_impact: Position
    residual_likelihood: Position | None = None
    residual_impact: Position | None = None
    status: SettableStatus = "open"
    treatment: Treatment | None = None
    treatment_plan: Text = ""
    acceptance_expires_on: date | None = None
    due_date: date | None = None
    control_ids: Ids = Field(default_factory=list)


class RiskUpdate(Input):
    """Every field optional. Moving a risk to another subject takes ``subject_type`` and ``subject_id`` together."""

    title: Title | None = None
    description: Text | None = None
    category: Category | None = None
    subject_type: SubjectType | None = None
    subject_id: int | None = None
    business_unit_id: int | None = None
    owner_id: int | None = None
    inherent_likelihood: Position | None = None
    inherent_impact: Position | None = None
    residual_likelihood: Position | None = None
    residual_impact: Position | None = None
    status: SettableStatus | None = None
    treatment: Treatment | None = None
    treatment_plan: Text | None = None
    acceptance_expires_on: date | None = None
    due_date: date | None = None


class AcceptIn(Input):
    """``expires_on`` defaults to the expiry the owner proposed; the approver may set another (after today)."""

    expires_on: date | None = None
    note: Text = ""


class ControlsIn(Input):
    control_ids: Ids


class BandIn(Input):
    level: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)]
    min: int
    max: int


class MatrixIn(Input):
    likelihood_labels: Annotated[list[Label], Field(max_length=50)]
    impact_labels: Annotated[list[Label], Field(max_length=50)]
    bands: Annotated[list[BandIn], Field(max_length=20)]


# --- outputs ---------------------------------------------------------------------------------------------------

class Ref(Output):
    id: int
    name: str


class PersonRef(Output):
    id: int
    full_name: str


class ControlRef(Output):
    id: int
    code: str
    name: str


class SubjectOut(Output):
    type: str
    id: int
    label: str
    url: str | None


class ScoreOut(Output):
    likelihood: int
    likelihood_label: str
    impact: int
    impact_label: str
    score: int
    level: str | None


class RiskSummary(Output):
    key: str
    title: str
    category: str
    subject: SubjectOut
    business_unit: Ref
    owner: PersonRef | None
    inherent: ScoreOut
    residual: ScoreOut | None
    level: str | None
    status: str
    treatment: str | None
    due_date: date | None
    review_due: bool
    overdue: bool
    updated_at: datetime


class RiskOut(RiskSummary):
    description: str
    treatment_plan: str
    accepted_by: PersonRef | None
    acceptance_expires_on: date | None
    controls: list[ControlRef]
    created_at: datetime


class HeatCellOut(Output):
    likelihood: int
    impact: int
    score: int
    level: str | None
    count: int


class BandOut(Output):
    level: str
    min: int
    max: int


class HeatMapOut(Output):
    basis: str
    likelihood_labels: list[str]
    impact_labels: list[str]
    bands: list[BandOut]
    cells: list[HeatCellOut]
    total: int


class MatrixOut(Output):
    likelihood_labels: list[str]
    impact_labels: list[str]
    bands: list[BandOut]
    max_score: int
    updated_at: datetime
