"""The inventory's fixed vocabularies."""

from __future__ import annotations

LIFECYCLE_STATUSES: dict[str, str] = {
    "in_development": "In development", "in_validation": "In validation", "in_production": "In production",
    "retired": "Retired",
}
EU_AI_ACT_ROLES: dict[str, str] = {
    "provider": "Provider", "deployer": "Deployer", "importer": "Importer", "distributor": "Distributor",
}
MODEL_KINDS: dict[str, str] = {
    "in_house": "In-house trained", "fine_tuned": "Fine-tuned", "third_party_api": "Third-party API",
    "open_weights": "Open-weights foundation model",
}
DATASET_SOURCES: dict[str, str] = {"internal": "Internal system", "vendor": "Vendor", "public": "Public"}
CLASSIFICATIONS: dict[str, str] = {
    "public": "Public", "internal": "Internal", "confidential": "Confidential", "restricted": "Restricted",
}
LEGAL_BASES: dict[str, str] = {  # GDPR Art. 6(1)
    "consent": "Consent", "contract": "Contract", "legal_obligation": "Legal obligation",
    "vital_interests": "Vital interests", "public_task": "Public task",
    "legitimate_interests": "Legitimate interests",
}
DATASET_PURPOSES: dict[str, str] = {  # dataset -> model lineage
    "train": "Training", "fine_tune": "Fine-tuning", "evaluate": "Evaluation", "retrieval": "Retrieval (RAG)",
}
ENVIRONMENTS: dict[str, str] = {"dev": "Development", "staging": "Staging", "production": "Production"}
DEPLOYMENT_STATUSES: dict[str, str] = {
    "planned": "Planned", "active": "Active", "paused": "Paused", "decommissioned": "Decommissioned",
}
VENDOR_TYPES: dict[str, str] = {
    "model_provider": "Model provider", "isv": "ISV", "system_integrator": "System integrator",
    "data_provider": "Data provider",
}
VENDOR_STATUSES: dict[str, str] = {"prospect": "Prospect", "active": "Active", "suspended": "Suspended",
                                   "exited": "Exited"}
