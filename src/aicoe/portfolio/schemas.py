"""Pydantic I/O for use cases, scoring and the pipeline. Unknown fields are refused; strings and lists have
limits; amounts may not be negative. Rules that need the database (units, people, objectives, KPIs, criteria
exist; scope) are checked by the services, which name the field as well."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from aicoe.core.schemas import Input, Output

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
CriterionKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40,
                                                pattern=r"^[a-z][a-z0-9_]*$")]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
AiType = Literal["predictive_ml", "generative_ai", "agentic"]
BenefitKind = Literal["revenue", "cost_saving", "hours_saved", "customer_satisfaction", "risk_reduction"]
DeliveryMode = Literal["build", "buy", "partner"]
Axis = Literal["value", "feasibility"]
Ids = Annotated[list[int], Field(max_length=100)]


# --- use cases -------------------------------------------------------------------------------------------------

class BenefitIn(Input):
    kind: BenefitKind
    amount: Money = Field(description="money per year in the configured currency")
    quantity: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        default=None, description="the non-money measure, e.g. hours saved per year")
    confidence: int = Field(default=50, ge=0, le=100, description="percent")
    note: Short = ""


class BenefitOut(Output):
    kind: str
    amount: float
    quantity: float | None
    confidence: int
    note: str


class UseCaseCreate(Input):
    title: Title
    problem_statement: Text = ""
    opportunity_statement: Text = ""
    business_unit_id: int
    sponsor_id: int | None = None
    owner_id: int | None = None
    affected_users: Text = ""
    data_needed: Text = ""
    personal_data: bool = False
    ai_type: AiType
    benefits: list[BenefitIn] = Field(default_factory=list, max_length=20)
    build_cost_estimate: Money = 0.0
    run_cost_estimate: Money = Field(default=0.0, description="per year")
    target_date: date | None = None
    delivery_mode: DeliveryMode | None = None
    delivery_rationale: Text = ""
    objective_ids: Ids = Field(default_factory=list)
    kpi_ids: Ids = Field(default_factory=list)


class UseCaseUpdate(Input):
    """Every field optional; lists replace what is there. The stage changes only through a transition."""

    title: Title | None = None
    problem_statement: Text | None = None
    opportunity_statement: Text | None = None
    business_unit_id: int | None = None
    sponsor_id: int | None = None
    owner_id: int | None = None
    affected_users: Text | None = None
    data_needed: Text | None = None
    personal_data: bool | None = None
    ai_type: AiType | None = None
    benefits: list[BenefitIn] | None = Field(default=None, max_length=20)
    build_cost_estimate: Money | None = None
    run_cost_estimate: Money | None = None
    target_date: date | None = None
    delivery_mode: DeliveryMode | None = None
    delivery_rationale: Text | None = None
    objective_ids: Ids | None = None
    kpi_ids: Ids | None = None


class Ref(Output):
    id: int
    name: str


class PersonRef(Output):
    id: int
    full_name: str


class ObjectiveRef(Output):
    id: int
    title: str


class UseCaseSummary(Output):
    id: int
    key: str
    title: str
    business_unit: Ref
    stage: str
    ai_type: str
    owner: PersonRef | None
    target_date: date | None
    submitted_at: datetime
    expected_benefit_annual: float
    score_total: float | None
    score_value: float | None
    score_feasibility: float | None
    score_spread: float | None
    scorer_count: int


class UseCaseOut(UseCaseSummary):
    problem_statement: str
    opportunity_statement: str
    sponsor: PersonRef | None
    submitted_by: PersonRef | None
    affected_users: str
    data_needed: str
    personal_data: bool
    delivery_mode: str | None
    delivery_rationale: str
    build_cost_estimate: float
    run_cost_estimate: float
    stage_entered_at: datetime
    production_at: datetime | None
    realised_benefit: float
    realised_cost: float
    benefits: list[BenefitOut]
    objectives: list[ObjectiveRef]
    kpis: list[Ref]
    patterns: list[Ref]
    created_at: datetime
    updated_at: datetime


class SimilarIn(Input):
    title: Title
    problem_statement: Text = ""
    exclude_key: Annotated[str, StringConstraints(max_length=16)] | None = None


class SimilarItem(BaseModel):
    key: str
    title: str
    stage: str
    business_unit: str
    score: float


class SimilarOut(BaseModel):
    threshold: float
    items: list[SimilarItem]


# --- scoring -----------------------------------------------------------------------------------------------------

class CriterionIn(Input):
    key: CriterionKey
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    description: Short = ""
    weight: float = Field(gt=0, le=1000, allow_inf_nan=False)
    inverse: bool = False
    axis: Axis


class CriterionOut(Output):
    key: str
    name: str
    description: str
    weight: float
    inverse: bool
    axis: str
    position: int


class ScoringModelIn(Input):
    """The whole set of criteria, in display order; a key that is left out is removed with its ratings."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None = None
    description: Short | None = None
    criteria: list[CriterionIn] = Field(min_length=1, max_length=30)


class ScoringModelOut(BaseModel):
    id: int | None = Field(description="null until the default model is first saved")
    name: str
    description: str
    criteria: list[CriterionOut]


class ScoresIn(Input):
    """The caller's scorecard: a rating 1..5 for every criterion of the active model, comments optional."""

    ratings: dict[Annotated[str, StringConstraints(max_length=40)], int] = Field(max_length=30)
    comments: dict[Annotated[str, StringConstraints(max_length=40)], Short] = Field(default_factory=dict,
                                                                                   max_length=30)


class ScorerCard(Output):
    scorer: PersonRef
    total: float
    value: float | None
    feasibility: float | None
    ratings: dict[str, int]
    comments: dict[str, str]
    updated_at: datetime


class CriterionSummary(Output):
    key: str
    name: str
    weight: float
    inverse: bool
    axis: str
    mean: float | None = Field(description="mean rating as given (before inverting)")
    min: int | None
    max: int | None
    count: int


class ScoresOut(Output):
    key: str
    score_total: float | None
    score_value: float | None
    score_feasibility: float | None
    score_spread: float | None
    scorer_count: int
    criteria: list[CriterionSummary]
    scorers: list[ScorerCard]


# --- pipeline and matrix -------------------------------------------------------------------------------------------

class PipelineItem(BaseModel):
    rank: int | None = Field(description="competition rank (1, 2, 2, 4); null when unscored")
    key: str
    title: str
    stage: str
    ai_type: str
    business_unit: Ref
    score_total: float | None
    score_value: float | None
    score_feasibility: float | None
    score_spread: float | None
    scorer_count: int
    what_if_total: float | None = None
    what_if_value: float | None = None


class PipelineOut(BaseModel):
    items: list[PipelineItem]
    total: int
    limit: int
    offset: int
    next_offset: int | None
    what_if: dict[str, float] | None = Field(description="the weights used when re-ranking; nothing was saved")


class MatrixPoint(BaseModel):
    key: str
    title: str
    x: float = Field(description="score_feasibility, 1..5")
    y: float = Field(description="score_value, 1..5")
    quadrant: str


class MatrixOut(BaseModel):
    threshold: float
    quadrants: dict[str, int] = Field(description="how many scored use cases fall in each quadrant")
    total: int
    points: list[MatrixPoint] = Field(description="the highest-scored points, at most `limit`")
