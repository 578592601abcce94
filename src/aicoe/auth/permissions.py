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
    "compliance:read": "See framework catalogs, EU AI Act classifications, assessments, controls and evidence",
    "compliance:write": "Classify AI systems, run assessments, implement controls and attach evidence",
    "control:write": "Maintain the organisation's control library and its mappings to requirements",
    "catalog:import": "Import framework catalogs and cross-framework mappings",
    "evidence:review": "Sign off (accept or reject) evidence",
    "risk:read": "See the risk register and heat map",
    "risk:write": "Record and treat risks",
    "risk:accept": "Approve the acceptance of a risk",
    "risk_matrix:write": "Configure the risk scoring matrix",
    "policy:read": "See policies and attestation status",
    "policy:write": "Write, publish and retire policies; ask people to attest",
    "policy:attest": "Attest one's own policy versions",
    "review:read": "See review requests, decisions and the re-review schedule",
    "review:request": "Request a board review of a use case or AI system",
    "review:decide": "Decide on review requests as a board member",
    "review_cadence:write": "Configure re-review cadences by risk tier",
    "sensitive:read": "See dataset scans, findings (masked) and data-governance violations",
    "sensitive:scan": "Run sensitive-data scans of datasets",
    "sensitive:scan_text": "Scan text for sensitive data through the API (for other services)",
    "evaluation:read": "See evaluation runs, their reports and policy checks",
    "evaluation:run": "Run fairness, performance and drift evaluations of AI systems and models",
    "gateway:read": "See gateway providers, routes, policies, keys (never their secrets) and usage",
    "gateway:key": "Create and revoke gateway virtual keys",
    "gateway:admin": "Manage gateway providers, model routes and budgets",
    "gateway:policy": "Manage guardrail policies",
}

READ_ALL = frozenset(p for p in PERMISSIONS if p.endswith(":read"))
_MEMBER = frozenset({"business_unit:read", "person:read", "job:read", "file:read", "file:write", "profile:write",
                     "strategy:read", "use_case:read", "use_case:submit", "inventory:read", "compliance:read",
                     "risk:read", "policy:read", "policy:attest", "review:read", "sensitive:read",
                     "evaluation:read", "gateway:read"})
_VIEWER = frozenset({"business_unit:read", "person:read", "profile:write", "strategy:read", "use_case:read",
                     "use_case:submit", "inventory:read", "policy:read", "policy:attest"})
_DELIVERY = frozenset({"use_case:write", "use_case:score", "use_case:transition", "value:write", "review:request"})
_GOVERNANCE = frozenset({"compliance:write", "control:write", "catalog:import", "evidence:review", "risk:write",
                         "risk:accept", "risk_matrix:write", "policy:write", "review:request",
                         "review_cadence:write", "sensitive:scan", "sensitive:scan_text", "evaluation:run",
                         "gateway:policy"})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(PERMISSIONS),
    Role.EXECUTIVE_SPONSOR: _MEMBER | {"audit:read", "strategy:write", "use_case:score", "risk:accept"},
    Role.STEERING_COMMITTEE: _MEMBER | {"audit:read", "strategy:write", "use_case:score", "use_case:transition",
                                        "use_case:override", "review:decide", "risk:accept"},
    Role.ETHICS_BOARD: _MEMBER | {"audit:read", "review:decide", "evidence:review", "review_cadence:write",
                                  "evaluation:run"},
    Role.COE_LEAD: _MEMBER | _DELIVERY | {"business_unit:write", "person:write", "user:read", "audit:read",
                                          "job:write", "strategy:write", "scoring_model:write", "use_case:import",
                                          "inventory:write", "vendor:write", "compliance:write", "control:write",
                                          "risk:write", "policy:write", "sensitive:scan", "evaluation:run",
                                          "gateway:key", "gateway:admin", "gateway:policy"},
    Role.PRODUCT_STRATEGIST: _MEMBER | _DELIVERY | {"use_case:import"},
    Role.PROJECT_MANAGER: _MEMBER | _DELIVERY,
    Role.PRACTITIONER: _MEMBER | {"job:write", "use_case:write", "inventory:write", "compliance:write", "risk:write",
                                  "sensitive:scan", "sensitive:scan_text", "evaluation:run", "gateway:key"},
    Role.DOMAIN_EXPERT: _MEMBER | {"use_case:score"},
    Role.RISK_COMPLIANCE: _MEMBER | _GOVERNANCE | {"audit:read", "audit:export"},
    Role.OPERATIONS: _MEMBER | {"job:write", "inventory:write", "risk:write", "sensitive:scan", "sensitive:scan_text",
                             "evaluation:run", "gateway:key", "gateway:admin"},
    Role.PROCUREMENT: _MEMBER | {"vendor:write"},
    Role.AUDITOR: READ_ALL | {"audit:export", "profile:write"},
    Role.VIEWER: _VIEWER,
}

# Permissions that only make sense CoE-wide: a business-unit-scoped grant of these is ignored.
GLOBAL_ONLY = frozenset({"user:read", "user:write", "audit:read", "audit:export", "job:write", "strategy:write",
                         "scoring_model:write", "use_case:override", "use_case:import", "catalog:import",
                         "control:write", "risk_matrix:write", "review_cadence:write", "gateway:admin",
                         "gateway:policy"})


def role_from(value: str) -> Role:
    from aicoe.core.errors import FieldError, ValidationFailed

    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(
            f"unknown role {value!r}", errors=[FieldError("role", f"unknown role {value!r}; allowed: {allowed}")]
        ) from None
