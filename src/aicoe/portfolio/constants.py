"""The portfolio's fixed vocabularies: stages and their order, AI types, delivery modes, value kinds."""

from __future__ import annotations

# The main path, in order; a use case moves one step forward at a time (or back, see lifecycle).
STAGES: tuple[str, ...] = ("idea", "qualified", "prioritised", "proof_of_concept", "pilot", "production", "retired")
SIDE_STAGES: tuple[str, ...] = ("rejected", "on_hold")
ALL_STAGES: tuple[str, ...] = STAGES + SIDE_STAGES
STAGE_LABELS: dict[str, str] = {
    "idea": "Idea", "qualified": "Qualified", "prioritised": "Prioritised", "proof_of_concept": "Proof of concept",
    "pilot": "Pilot", "production": "Production", "retired": "Retired", "rejected": "Rejected", "on_hold": "On hold",
}
ACTIVE_STAGES: tuple[str, ...] = STAGES[:-1]  # everything before retired on the main path

AI_TYPES: dict[str, str] = {"predictive_ml": "Predictive ML", "generative_ai": "Generative AI", "agentic": "Agentic AI"}
DELIVERY_MODES: dict[str, str] = {"build": "Build", "buy": "Buy", "partner": "Partner"}

BENEFIT_KINDS: dict[str, str] = {
    "revenue": "Revenue", "cost_saving": "Cost saving", "hours_saved": "Hours saved",
    "customer_satisfaction": "Customer satisfaction", "risk_reduction": "Risk reduction",
}
COST_KINDS: dict[str, str] = {"build": "Build", "run": "Run", "licence": "Licences", "inference": "Inference"}
# value entries carry "cost_<kind>" or "benefit_<kind>"
VALUE_KINDS: dict[str, str] = {
    **{f"cost_{k}": f"Cost: {v}" for k, v in COST_KINDS.items()},
    **{f"benefit_{k}": f"Benefit: {v}" for k, v in BENEFIT_KINDS.items()},
}

COMPARATORS: dict[str, str] = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "==": "exactly"}
SCORE_MIN, SCORE_MAX = 1, 5
AXES: dict[str, str] = {"value": "Value", "feasibility": "Feasibility"}
