"""Pydantic I/O for the control library, its mappings to requirements and its implementations.

Vocabularies are closed (``Literal``); rules that need the database (codes are unique, requirements, owners and
subjects exist and are visible, the caller may write the subject's unit) are checked by the service.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from aicoe.core.schemas import Input, Output

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")


def _code(value: str) -> str:
    if not CODE_RE.match(value):
        raise ValueError("use letters, digits, '.', '_' and '-' only, starting with a letter or digit, "
                         "e.g. CTL-BIAS-01")
    return value


# A code reads like "CTL-BIAS-01"; it is stored in upper case.
Code = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=2, max_length=32),
                 AfterValidator(_code)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Category = Literal["governance", "data", "model", "testing", "security", "transparency", "oversight", "operations",
                   "third_party"]
SubjectType = Literal["ai_system", "model", "dataset", "vendor"]
Status = Literal["planned", "implemented", "not_effective"]


class ControlCreate(Input):
    code: Code
    name: Name
    description: Text = ""
    category: Category
    owner_id: int | None = None


class ControlUpdate(Input):
    """Every field optional; ``owner_id`` may be set to null."""

    code: Code | None = None
    name: Name | None = None
    description: Text | None = None
    category: Category | None = None
    owner_id: int | None = None


class RequirementsIn(Input):
    """The complete set of requirements the control maps to (replaces the current set)."""

    requirement_ids: Annotated[list[int], Field(max_length=500)]


class ImplementationCreate(Input):
    subject_type: SubjectType
    subject_id: int
    status: Status = "implemented"
    notes: Text = ""
    owner_id: int | None = None
    implemented_on: date | None = None


class ImplementationUpdate(Input):
    status: Status | None = None
    notes: Text | None = None
    owner_id: int | None = None
    implemented_on: date | None = None


class PersonRef(Output):
    id: int
    full_name: str


class RequirementRef(Output):
    id: int
    framework_key: str
    framework_version: str
    ref: str
    title: str


class ImplementationOut(Output):
    id: int
    control_id: int
    subject_type: str
    subject_id: int
    subject_label: str
    business_unit_id: int | None
    status: str
    notes: str
    owner: PersonRef | None
    implemented_on: date | None
    created_at: datetime
    updated_at: datetime


class ControlSummary(Output):
    id: int
    code: str
    name: str
    category: str
    owner: PersonRef | None
    requirements: list[RequirementRef]
    implementation_count: int
    updated_at: datetime


class ControlOut(ControlSummary):
    description: str
    implementations: list[ImplementationOut]
    created_at: datetime


class ControlRef(Output):
    id: int
    code: str
    name: str
    category: str


class EffectiveControlOut(Output):
    control: ControlRef
    implementation: ImplementationOut
    inherited_from: str | None
    requirement_ids: list[int]
