"""The risk register's fixed vocabularies: taxonomy, treatments, statuses, subjects and the levels bands name."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "bias_fairness": "Bias and fairness", "privacy": "Privacy", "security": "Security", "safety": "Safety",
    "robustness": "Robustness", "transparency": "Transparency", "accountability": "Accountability",
    "intellectual_property": "IP", "third_party": "Third party", "regulatory": "Regulatory",
}
TREATMENTS: dict[str, str] = {"mitigate": "Mitigate", "accept": "Accept", "transfer": "Transfer", "avoid": "Avoid"}
STATUSES: dict[str, str] = {"open": "Open", "treating": "Treating", "accepted": "Accepted", "closed": "Closed"}
# Statuses a register filter may also ask for: every risk that is not closed.
STATUS_FILTERS: dict[str, str] = {"active": "Active (not closed)", **STATUSES}
SUBJECT_TYPES: dict[str, str] = {
    "ai_system": "AI system", "use_case": "Use case", "dataset": "Dataset", "model": "Model", "vendor": "Vendor",
}
# Levels the matrix's score bands may name, least to most severe (a matrix uses 2 to 4 of them, in this order).
LEVELS: dict[str, str] = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
BASES: dict[str, str] = {"inherent": "Inherent", "residual": "Residual"}
