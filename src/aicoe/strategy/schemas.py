"""Pydantic I/O for strategy: the mission, objectives, KPIs and measurements. Unknown fields are refused."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from aicoe.core.schemas import Input, Output

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Statement = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
UnitLabel = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Figure = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
ObjectiveStatus = Literal["active", "achieved", "dropped"]
Direction = Literal["higher", "lower"]

OBJECTIVE_STATUSES: dict[str, str] = {"active": "Active", "achieved": "Achieved", "dropped": "Dropped"}
DIRECTIONS: dict[str, str] = {"higher": "Higher is better", "lower": "Lower is better"}


class PersonRef(Output):
    id: int
    full_name: str
    email: str


class UnitRef(Output):
    id: int
    code: str
    name: str


# --- mission ---------------------------------------------------------------------------------------------------

class MissionIn(Input):
    statement: Statement
    vision: Text = ""
    change_note: Note = ""


class MissionOut(Output):
    id: int
    version: int
    statement: str
    vision: str
    change_note: str
    created_by: PersonRef | None
    created_at: datetime


# --- objectives ------------------------------------------------------------------------------------------------

class ObjectiveCreate(Input):
    title: Title
    description: Text = ""
    owner_id: int | None = None
    period_start: date
    period_end: date
    status: ObjectiveStatus = "active"
    business_unit_ids: list[int] = Field(default_factory=list, max_length=200)


class ObjectiveUpdate(Input):
    title: Title | None = None
    description: Text | None = None
    owner_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    status: ObjectiveStatus | None = None
    business_unit_ids: list[int] | None = Field(default=None, max_length=200)


class KpiRef(Output):
    id: int
    name: str


class ObjectiveOut(Output):
    id: int
    title: str
    description: str
    owner_id: int | None
    owner: PersonRef | None
    period_start: date
    period_end: date
    status: str
    business_units: list[UnitRef] = Field(validation_alias="units")
    kpis: list[KpiRef]
    created_at: datetime
    updated_at: datetime


class ObjectiveRef(Output):
    id: int
    title: str


# --- KPIs ------------------------------------------------------------------------------------------------------

class KpiCreate(Input):
    name: Title
    description: Text = ""
    unit: UnitLabel = ""
    direction: Direction
    baseline: Figure
    target: Figure
    target_date: date | None = None
    objective_id: int | None = None
    owner_id: int | None = None


class KpiUpdate(Input):
    name: Title | None = None
    description: Text | None = None
    unit: UnitLabel | None = None
    direction: Direction | None = None
    baseline: Figure | None = None
    target: Figure | None = None
    target_date: date | None = None
    objective_id: int | None = None
    owner_id: int | None = None


class KpiStatusOut(BaseModel):
    """The computed standing of a KPI; see ``strategy.service.kpi_status`` for the rules."""

    latest: float | None
    latest_on: date | None
    previous: float | None
    change: float | None
    trend: Literal["improving", "worsening", "flat"] | None
    progress: float | None
    expected: float | None
    status: Literal["on_track", "at_risk", "off_track", "no_data"]


class KpiOut(Output):
    id: int
    name: str
    description: str
    unit: str
    direction: str
    baseline: float
    target: float
    target_date: date | None
    objective_id: int | None
    objective: ObjectiveRef | None
    owner_id: int | None
    owner: PersonRef | None
    status: KpiStatusOut
    created_at: datetime
    updated_at: datetime


class MeasurementIn(Input):
    measured_on: date
    value: Figure
    note: Text = ""


class MeasurementOut(Output):
    id: int
    kpi_id: int
    measured_on: date
    value: float
    note: str
    created_by_id: int | None
    created_at: datetime
