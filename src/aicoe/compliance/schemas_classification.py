"""Pydantic I/O for EU AI Act classifications.

Answers are a free mapping here on purpose: the classifier validates them against the questionnaire and names
the question in each error (the field of the 422 problem is the question id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from aicoe.core.schemas import Input, Output

Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Answers = Annotated[dict[str, Any], Field(max_length=200, description="question id → answer: true/false for "
                                                                      "yes/no, an option id, or a list of option ids")]


class PreviewIn(Input):
    answers: Answers


class ClassifyIn(Input):
    answers: Answers
    notes: Notes = ""


class OptionOut(Output):
    id: str
    label: str
    articles: list[str]


class QuestionOut(Output):
    id: str
    number: str
    section: str
    text: str
    help: str
    articles: list[str]
    type: str
    options: list[OptionOut]
    condition: dict[str, Any] | None = Field(description="null: always asked; else 'text' says when, and 'all_of' "
                                                         "lists groups of clauses (all groups must hold, any clause "
                                                         "within a group)")


class SectionOut(Output):
    id: str
    title: str
    articles: list[str]
    questions: list[QuestionOut]


class QuestionnaireOut(Output):
    version: str
    sections: list[SectionOut]


class ObligationOut(Output):
    ref: str
    title: str
    role: str
    why: str


class ReasonOut(Output):
    question: str
    text: str
    answer: str
    articles: list[str]
    finding: str


class PreviewOut(Output):
    questionnaire_version: str
    tier: str
    gpai: str | None
    role: str
    roles: list[str]
    answers: dict[str, Any]
    obligations: list[ObligationOut]
    rationale: list[ReasonOut]


class SystemRef(Output):
    id: int
    name: str


class UnitRef(Output):
    id: int
    name: str


class PersonRef(Output):
    id: int
    full_name: str


class ClassificationOut(Output):
    id: int
    ai_system: SystemRef
    version: int
    is_current: bool
    questionnaire_version: str
    tier: str
    gpai: str | None
    answers: dict[str, Any]
    obligations: list[ObligationOut]
    rationale: list[ReasonOut]
    notes: str
    classified_by: PersonRef | None
    created_at: datetime


class CurrentSummary(Output):
    id: int
    version: int
    tier: str
    gpai: str | None
    classified_by: PersonRef | None
    created_at: datetime


class SystemClassificationOut(Output):
    """One AI system with its current classification (null when not classified yet)."""

    id: int
    name: str
    business_unit: UnitRef
    eu_ai_act_role: str
    lifecycle_status: str
    current: CurrentSummary | None
