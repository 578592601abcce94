"""Pydantic I/O for the organisation area. Unknown fields are refused; strings have limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from aicoe.core.schemas import Input, Output

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32,
                                        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]


class BusinessUnitCreate(Input):
    code: Code
    name: Name
    description: Text = ""
    parent_id: int | None = None


class BusinessUnitUpdate(Input):
    code: Code | None = None
    name: Name | None = None
    description: Text | None = None
    parent_id: int | None = None


class BusinessUnitOut(Output):
    id: int
    code: str
    name: str
    description: str
    parent_id: int | None
    created_at: datetime
    updated_at: datetime


class RoleIn(Input):
    role: str = Field(max_length=40)
    business_unit_id: int | None = None


class RoleOut(Output):
    role: str
    business_unit_id: int | None


class PersonCreate(Input):
    email: EmailStr = Field(max_length=254)
    full_name: Name
    title: Short = ""
    business_unit_id: int | None = None
    coe_role: Short | None = None
    password: str | None = Field(default=None, max_length=256)
    roles: list[RoleIn] = Field(default_factory=list, max_length=20)


class PersonUpdate(Input):
    full_name: Name | None = None
    title: Short | None = None
    business_unit_id: int | None = None
    coe_role: Short | None = None


class PersonOut(Output):
    id: int
    email: str
    full_name: str
    title: str
    business_unit_id: int | None
    coe_role: str | None
    is_active: bool
    roles: list[RoleOut]
    last_login_at: datetime | None
    created_at: datetime


class RoleInfo(BaseModel):
    role: str
    label: str
    permissions: list[str]
    global_only: list[str] = Field(description="permissions this role grants only when assigned CoE-wide")


class RolesReplace(Input):
    roles: list[RoleIn] = Field(max_length=20)


class PasswordReset(Input):
    password: str = Field(max_length=256)
