"""The CoE roles and the permissions each grants: the one table in code that says who may do what.

Permissions are ``<area>:<verb>`` strings. A role assignment scoped to a business unit grants its permissions
for that unit and its descendants only; an unscoped assignment grants them CoE-wide.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    EXECUTIVE_SPONSOR = "executive_sponsor"
    STEERING_COMMITTEE = "steering_committee"
    ETHICS_BOARD = "ethics_board"
    COE_LEAD = "coe_lead"
    PRODUCT_STRATEGIST = "product_strategist"
    PROJECT_MANAGER = "project_manager"
    PRACTITIONER = "practitioner"
    DOMAIN_EXPERT = "domain_expert"
    RISK_COMPLIANCE = "risk_compliance"
    OPERATIONS = "operations"
    PROCUREMENT = "procurement"
    AUDITOR = "auditor"
    VIEWER = "viewer"


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Administrator",
    Role.EXECUTIVE_SPONSOR: "Executive sponsor",
    Role.STEERING_COMMITTEE: "Steering committee",
    Role.ETHICS_BOARD: "Ethics board",
    Role.COE_LEAD: "CoE lead",
    Role.PRODUCT_STRATEGIST: "Product strategist",
    Role.PROJECT_MANAGER: "Project manager",
    Role.PRACTITIONER: "Practitioner (data scientist / ML engineer)",
    Role.DOMAIN_EXPERT: "Domain expert",
    Role.RISK_COMPLIANCE: "Risk & compliance",
    Role.OPERATIONS: "Operations",
    Role.PROCUREMENT: "Procurement",
    Role.AUDITOR: "Auditor (read everything, change nothing)",
    Role.VIEWER: "Viewer",
}

PERMISSIONS: dict[str, str] = {
    "business_unit:read": "See business units",
    "business_unit:write": "Create, edit and delete business units",
    "person:read": "See people and the CoE roster",
    "person:write": "Create and edit people and their profiles",
    "user:read": "See accounts and their roles",
    "user:write": "Create, disable and change accounts and their roles",
    "audit:read": "Read the audit trail",
    "audit:export": "Export the audit trail",
    "job:read": "See background jobs",
    "job:write": "Cancel background jobs",
    "file:read": "Download stored files",
    "file:write": "Upload files",
    "profile:write": "Change one's own password and API tokens",
}

READ_ALL = frozenset(p for p in PERMISSIONS if p.endswith(":read"))
_MEMBER = frozenset({"business_unit:read", "person:read", "job:read", "file:read", "file:write", "profile:write"})
_VIEWER = frozenset({"business_unit:read", "person:read", "profile:write"})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(PERMISSIONS),
    Role.EXECUTIVE_SPONSOR: _MEMBER | {"audit:read"},
    Role.STEERING_COMMITTEE: _MEMBER | {"audit:read"},
    Role.ETHICS_BOARD: _MEMBER | {"audit:read"},
    Role.COE_LEAD: _MEMBER | {"business_unit:write", "person:write", "user:read", "audit:read", "job:write"},
    Role.PRODUCT_STRATEGIST: _MEMBER,
    Role.PROJECT_MANAGER: _MEMBER,
    Role.PRACTITIONER: _MEMBER | {"job:write"},
    Role.DOMAIN_EXPERT: _MEMBER,
    Role.RISK_COMPLIANCE: _MEMBER | {"audit:read", "audit:export"},
    Role.OPERATIONS: _MEMBER | {"job:write"},
    Role.PROCUREMENT: _MEMBER,
    Role.AUDITOR: READ_ALL | {"audit:export", "profile:write"},
    Role.VIEWER: _VIEWER,
}

# Permissions that only make sense CoE-wide: a business-unit-scoped grant of these is ignored.
GLOBAL_ONLY = frozenset({"user:read", "user:write", "audit:read", "audit:export", "job:write"})


def role_from(value: str) -> Role:
    from aicoe.core.errors import FieldError, ValidationFailed

    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(
            f"unknown role {value!r}", errors=[FieldError("role", f"unknown role {value!r}; allowed: {allowed}")]
        ) from None
