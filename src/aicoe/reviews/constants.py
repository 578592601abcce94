"""The reviews area's fixed vocabularies: boards (and the role whose holders sit on each), request statuses,
decisions, and the default re-review cadences by EU AI Act risk tier."""

from __future__ import annotations

from aicoe.auth.permissions import Role

# board -> the role whose holders are its members (they also need review:decide, which these roles grant)
BOARDS: dict[str, Role] = {"ethics_board": Role.ETHICS_BOARD, "steering_committee": Role.STEERING_COMMITTEE}
BOARD_LABELS: dict[str, str] = {"ethics_board": "Ethics board", "steering_committee": "Steering committee"}

SUBJECT_TYPES: dict[str, str] = {"use_case": "Use case", "ai_system": "AI system"}

REQUEST_STATUSES: dict[str, str] = {
    "open": "Open", "approved": "Approved", "approved_with_conditions": "Approved with conditions",
    "rejected": "Rejected", "withdrawn": "Withdrawn",
}
APPROVED_STATUSES: tuple[str, ...] = ("approved", "approved_with_conditions")

DECISIONS: dict[str, str] = {
    "approve": "Approve", "approve_with_conditions": "Approve with conditions", "reject": "Reject",
}
APPROVING_DECISIONS: tuple[str, ...] = ("approve", "approve_with_conditions")

# risk tier -> (months between reviews, board); a prohibited system must not be in use, so it has no cadence
DEFAULT_CADENCES: dict[str, tuple[int, str]] = {
    "high": (12, "ethics_board"), "limited": (24, "ethics_board"), "minimal": (36, "ethics_board"),
}
NO_CADENCE_TIERS: frozenset[str] = frozenset({"prohibited"})
