"""Pydantic I/O for review requests, decisions, comments, cadences and the re-review schedule.

Vocabularies are closed (``Literal``). Rules that need the database (the subject exists and is visible, each
required approver sits on the board for the subject's unit, the quorum can be reached, conditions go with an
approval with conditions) are checked by the service, which names the field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from aicoe.core.schemas import Input, Output

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Board = Literal["ethics_board", "steering_committee"]
SubjectType = Literal["use_case", "ai_system"]
Decision = Literal["approve", "approve_with_conditions", "reject"]


class ReviewCreate(Input):
    board: Board
    subject_type: SubjectType
    subject_id: int
    title: Title
    description: Text = ""
    required_approver_ids: Annotated[list[int], Field(max_length=20)] = Field(default_factory=list)
    quorum: Annotated[int, Field(ge=1, le=50)] = 1
    due_date: date | None = None


class DecisionIn(Input):
    """``conditions`` are required with approve_with_conditions and refused with the other decisions."""

    decision: Decision
    conditions: Text = ""
    comment: Text = ""


class CommentIn(Input):
    body: Body


class WithdrawIn(Input):
    reason: Text = ""


class CadenceIn(Input):
    interval_months: Annotated[int, Field(ge=1, le=120)]
    board: Board = "ethics_board"


class PersonRef(Output):
    id: int
    full_name: str


class Ref(Output):
    id: int
    name: str


class SubjectOut(Output):
    type: str
    id: int
    label: str
    url: str
    exists: bool


class DecisionOut(Output):
    user: PersonRef
    decision: str
    conditions: str
    comment: str
    created_at: datetime


class CommentOut(Output):
    id: int
    user: PersonRef | None
    body: str
    created_at: datetime


class ProgressOut(Output):
    approvals: int
    rejections: int
    quorum: int
    members: int
    required_pending: list[PersonRef]


class ReviewSummary(Output):
    key: str
    board: str
    subject: SubjectOut
    business_unit: Ref
    title: str
    status: str
    quorum: int
    due_date: date | None
    requested_by: PersonRef | None
    created_at: datetime
    decided_at: datetime | None


class ReviewOut(ReviewSummary):
    description: str
    conditions: str
    required_approvers: list[PersonRef]
    decisions: list[DecisionOut]
    comments: list[CommentOut]
    progress: ProgressOut


class CadenceOut(Output):
    risk_tier: str
    interval_months: int
    board: str
    is_default: bool


class LastReviewOut(Output):
    key: str
    decided_on: date


class ScheduleEntryOut(Output):
    ai_system: Ref
    business_unit: Ref
    risk_tier: str
    board: str
    interval_months: int
    last_review: LastReviewOut | None
    next_due: date | None
    overdue: bool
    open_review: str | None
