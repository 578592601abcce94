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
    "strategy:read": "See the mission, objectives and KPIs",
    "strategy:write": "Edit the mission, objectives and KPIs; record KPI measurements",
    "use_case:read": "See use cases, their scores, decisions and value",
    "use_case:submit": "Submit new use-case ideas",
    "use_case:write": "Edit use cases, success criteria and results, and their patterns",
    "use_case:score": "Score use cases",
    "use_case:transition": "Move use cases through the stage gates",
    "use_case:override": "Override a failed gate check, with a reason",
    "use_case:import": "Import use cases from CSV or XLSX",
    "value:write": "Record realised costs and benefits",
    "scoring_model:write": "Configure the scoring model",
    "inventory:read": "See AI systems, models, datasets, deployments, vendors and lineage",
    "inventory:write": "Register and change AI systems, models, datasets, deployments and lineage",
    "vendor:write": "Register and change vendors",
}

READ_ALL = frozenset(p for p in PERMISSIONS if p.endswith(":read"))
_MEMBER = frozenset({"business_unit:read", "person:read", "job:read", "file:read", "file:write", "profile:write",
                     "strategy:read", "use_case:read", "use_case:submit", "inventory:read"})
_VIEWER = frozenset({"business_unit:read", "person:read", "profile:write", "strategy:read", "use_case:read",
                     "use_case:submit", "inventory:read"})
_DELIVERY = frozenset({"use_case:write", "use_case:score", "use_case:transition", "value:write"})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(PERMISSIONS),
    Role.EXECUTIVE_SPONSOR: _MEMBER | {"audit:read", "strategy:write", "use_case:score"},
    Role.STEERING_COMMITTEE: _MEMBER | {"audit:read", "strategy:write", "use_case:score", "use_case:transition",
                                        "use_case:override"},
    Role.ETHICS_BOARD: _MEMBER | {"audit:read"},
    Role.COE_LEAD: _MEMBER | _DELIVERY | {"business_unit:write", "person:write", "user:read", "audit:read",
                                          "job:write", "strategy:write", "scoring_model:write", "use_case:import",
                                          "inventory:write", "vendor:write"},
    Role.PRODUCT_STRATEGIST: _MEMBER | _DELIVERY | {"use_case:import"},
    Role.PROJECT_MANAGER: _MEMBER | _DELIVERY,
    Role.PRACTITIONER: _MEMBER | {"job:write", "use_case:write", "inventory:write"},
    Role.DOMAIN_EXPERT: _MEMBER | {"use_case:score"},
    Role.RISK_COMPLIANCE: _MEMBER | {"audit:read", "audit:export"},
    Role.OPERATIONS: _MEMBER | {"job:write", "inventory:write"},
    Role.PROCUREMENT: _MEMBER | {"vendor:write"},
    Role.AUDITOR: READ_ALL | {"audit:export", "profile:write"},
    Role.VIEWER: _VIEWER,
}

# Permissions that only make sense CoE-wide: a business-unit-scoped grant of these is ignored.
GLOBAL_ONLY = frozenset({"user:read", "user:write", "audit:read", "audit:export", "job:write", "strategy:write",
                         "scoring_model:write", "use_case:override", "use_case:import"})


def role_from(value: str) -> Role:
    from aicoe.core.errors import FieldError, ValidationFailed

    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(
            f"unknown role {value!r}", errors=[FieldError("role", f"unknown role {value!r}; allowed: {allowed}")]
        ) from None
