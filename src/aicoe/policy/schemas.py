"""Pydantic I/O for policies, their Markdown versions and attestations.

Inputs refuse unknown fields. Rules that need the database (titles unique, one draft at a time, published
versions immutable, people and units within the caller's reach) are checked by the service, which names the
field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from aicoe.core.schemas import Input, Output

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200_000)]
Cycle = Annotated[int, Field(ge=1, le=60, description="months between reviews")]


class PolicyCreate(Input):
    """``body_md``, when given, becomes draft version 1."""

    title: Title
    description: Text = ""
    owner_id: int | None = None
    review_cycle_months: Cycle = 12
    body_md: Body | None = None


class PolicyUpdate(Input):
    title: Title | None = None
    description: Text | None = None
    owner_id: int | None = None
    review_cycle_months: Cycle | None = None


class VersionCreate(Input):
    body_md: Body
    change_note: Text = ""


class VersionUpdate(Input):
    body_md: Body | None = None
    change_note: Text | None = None


class PublishIn(Input):
    """``effective_date`` defaults to today."""

    effective_date: date | None = None


class AttestationRequest(Input):
    """People named one by one, everyone in business units (sub-units included) and/or holders of roles;
    ``due_date`` defaults to today plus the configured number of days."""

    user_ids: Annotated[list[int], Field(max_length=5000)] = Field(default_factory=list)
    business_unit_ids: Annotated[list[int], Field(max_length=500)] = Field(default_factory=list)
    roles: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    due_date: date | None = None


# --- outputs ---------------------------------------------------------------------------------------------------

class PersonRef(Output):
    id: int
    full_name: str


class VersionSummary(Output):
    version: int
    status: str
    effective_date: date | None
    published_at: datetime | None
    change_note: str
    created_at: datetime


class VersionOut(VersionSummary):
    body_md: str
    body_html: str
    published_by: PersonRef | None
    created_by: PersonRef | None


class PolicySummary(Output):
    key: str
    title: str
    status: str
    owner: PersonRef | None
    review_cycle_months: int
    next_review_on: date | None
    review_due: bool
    current_version: int | None
    effective_date: date | None
    updated_at: datetime


class PolicyOut(PolicySummary):
    description: str
    versions: list[VersionSummary]
    current: VersionOut | None
    created_at: datetime


class RequestOut(Output):
    version: int
    requested: int
    already_requested: int
    cannot_attest: int
    due_date: date


class PersonStatusOut(Output):
    attestation_id: int
    user: PersonRef
    business_unit: str | None
    status: str  # pending, overdue, attested
    due_date: date | None
    attested_at: datetime | None
    reminder_count: int


class UnitStatusOut(Output):
    business_unit_id: int | None
    business_unit: str
    requested: int
    attested: int
    pending: int
    overdue: int
    rate: float


class StatusOut(Output):
    version: int | None
    people: list[PersonStatusOut]
    units: list[UnitStatusOut]
    totals: UnitStatusOut


class AttestationOut(Output):
    id: int
    policy_key: str
    policy_title: str
    version: int
    status: str  # pending, overdue, attested
    requested_at: datetime
    due_date: date | None
    attested_at: datetime | None


class ReminderOut(Output):
    reminded: int
    overdue: int
    due_soon: int
