"""The compliance area's fixed vocabularies, shared by catalogs (applicability rules), assessments and the UI."""

from __future__ import annotations

RISK_TIERS: dict[str, str] = {  # EU AI Act tiers, as the classifier sets them on AISystem.risk_tier
    "prohibited": "Prohibited", "high": "High-risk", "limited": "Limited (transparency)", "minimal": "Minimal",
}
GPAI_FLAGS: dict[str, str] = {"gpai": "General-purpose AI model", "gpai_systemic": "GPAI with systemic risk"}

# Keys an applicability rule may use, and the values each may take (the catalog loader validates against these).
# A rule is a mapping key -> list of allowed values ("personal_data" -> true/false); a requirement applies when
# every key of its rule (and of its ancestors' rules) matches the AI system's profile.
APPLICABILITY_KEYS: tuple[str, ...] = ("ai_types", "risk_tiers", "eu_roles", "lifecycle_stages", "personal_data",
                                       "gpai")

RESULT_STATUSES: dict[str, str] = {
    "not_started": "Not started", "in_progress": "In progress", "met": "Met", "partially_met": "Partially met",
    "not_met": "Not met", "not_applicable": "Not applicable",
}
ASSESSMENT_STATUSES: dict[str, str] = {"open": "Open", "completed": "Completed", "archived": "Archived"}
MAPPING_RELATIONS: dict[str, str] = {
    "equivalent": "Equivalent", "subset": "Subset of", "superset": "Superset of", "related": "Related",
}
EVIDENCE_KINDS: dict[str, str] = {"file": "File", "link": "Link", "record": "Platform record"}
# Platform records evidence can reference. The evidence service resolves each through a registry that the owning
# areas fill (the sensitive-data area registers "scan", evaluation "evaluation_run"; the gateway will add its own).
EVIDENCE_RECORD_TYPES: dict[str, str] = {
    "classification": "EU AI Act classification", "assessment": "Assessment", "review": "Review decision",
    "attestation": "Policy attestation", "audit_event": "Audit event", "scan": "Sensitive-data scan",
    "evaluation_run": "Evaluation run",
}
EVIDENCE_TYPES: dict[str, str] = {  # what a requirement expects; catalogs name these in evidence_types
    "policy": "Policy or procedure", "record": "Record or log", "report": "Report", "test_result": "Test result",
    "assessment": "Assessment", "documentation": "Technical documentation", "contract": "Contract or agreement",
    "training_record": "Training record", "approval": "Approval or sign-off", "register": "Register or inventory",
    "notice": "Notice to users", "configuration": "Configuration or screenshot",
}
REVIEW_STATUSES: dict[str, str] = {"pending": "Awaiting review", "accepted": "Accepted", "rejected": "Rejected"}
CONTROL_SUBJECTS: dict[str, str] = {
    "ai_system": "AI system", "model": "Model", "dataset": "Dataset", "vendor": "Vendor",
}
IMPLEMENTATION_STATUSES: dict[str, str] = {
    "planned": "Planned", "implemented": "Implemented", "not_effective": "Not effective",
}
CONTROL_CATEGORIES: dict[str, str] = {
    "governance": "Governance", "data": "Data", "model": "Model development", "testing": "Testing and validation",
    "security": "Security", "transparency": "Transparency", "oversight": "Human oversight",
    "operations": "Operations and monitoring", "third_party": "Third party",
}
