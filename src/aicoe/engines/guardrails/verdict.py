"""What a check returns: findings that say where and what (never the matched text) and the verdict they lead to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aicoe.engines.guardrails.detectors import Hit
from aicoe.engines.guardrails.policy import Rule

GUARD_UNAVAILABLE = "A guardrail check could not run, so this was blocked (the policy fails closed)."
BLOCKED_INPUT = "This request was blocked by guardrail policy {policy!r}: {rules}."
BLOCKED_OUTPUT = "The answer was stopped by guardrail policy {policy!r}: {rules}."
ERROR_KIND = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's match. ``message`` is the index of the chat message (None for a plain text or a stream);
    ``start``/``end`` are offsets in that message's text part (in a stream: in the whole answer). A finding of
    kind "error" says a detector failed; its ``entity_types`` holds the exception's class name."""

    rule: str
    kind: str
    action: str
    direction: str
    entity_types: tuple[str, ...]
    score: float | None
    detector: str
    message: int | None
    start: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "kind": self.kind, "action": self.action, "direction": self.direction,
                "entity_types": list(self.entity_types), "score": self.score, "detector": self.detector,
                "message": self.message, "start": self.start, "end": self.end}


@dataclass
class Verdict:
    """``action``: "allow" (log-only findings keep it), "anonymise" or "block". ``messages`` (check_input) and
    ``text`` (check_text) are the rewritten input when anonymised; ``restore`` maps placeholders back to values;
    ``reason`` is the user-facing block message. The rewritten input and ``restore`` hold the request's own text,
    so they are left out of the repr and must never be logged."""

    action: str
    findings: list[Finding]
    messages: list[dict[str, Any]] | None = field(default=None, repr=False)
    restore: dict[str, str] = field(default_factory=dict, repr=False)
    reason: str | None = None
    text: str | None = field(default=None, repr=False)


def finding(rule: Rule, hit: Hit, direction: str, message: int | None, shift: int = 0) -> Finding:
    return Finding(rule.id, rule.kind, rule.action, direction, hit.entity_types, hit.score, hit.detector, message,
                   hit.start + shift, hit.end + shift)


def error_finding(rule: Rule, exc: BaseException, direction: str, fail_open: bool) -> Finding:
    return Finding(rule.id, ERROR_KIND, "log" if fail_open else "block", direction, (type(exc).__name__,), None,
                   rule.kind, None, 0, 0)


def unavailable(rule: Rule, exc: BaseException, direction: str) -> Verdict:
    """The fail-closed verdict: blocked, with the one error finding."""
    return Verdict("block", [error_finding(rule, exc, direction, False)], reason=GUARD_UNAVAILABLE)


def blocked(policy: str, findings: Sequence[Finding], direction: str) -> Verdict:
    """A block verdict whose reason names the blocking rules and entity types (never a value)."""
    types: dict[str, set[str]] = {}
    for item in findings:
        if item.action == "block":
            types.setdefault(item.rule, set()).update(item.entity_types)
    rules = ", ".join(f"{rule} [{', '.join(sorted(names))}]" if names else rule for rule, names in types.items())
    template = BLOCKED_INPUT if direction == "input" else BLOCKED_OUTPUT
    return Verdict("block", list(findings), reason=template.format(policy=policy, rules=rules))
