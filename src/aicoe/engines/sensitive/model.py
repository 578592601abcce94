"""The engine's vocabulary: how a recogniser is declared and what a finding says.

A recogniser is data, not code: RE2-compatible patterns (linear-time, no look-around or back-references) that
never match across a line break, an optional validator that confirms a candidate (a checksum, a library check),
and context words that raise or lower the score when they stand near the match. The analyzer compiles every
recogniser's patterns once and scans a text in one pass per pattern set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
CATEGORIES: tuple[str, ...] = ("contact", "government_id", "financial", "health", "network", "credential", "crypto",
                               "personal", "special_category")


@dataclass(frozen=True, slots=True)
class Pattern:
    """One candidate pattern. ``regex`` is RE2 syntax; ``group`` is the group holding the value (0: the match)."""

    name: str
    regex: str
    score: float
    group: int = 0


@dataclass(frozen=True, slots=True)
class PatternRecognizer:
    """A recogniser for one entity type.

    ``validator`` receives the candidate value and returns whether it is real (a checksum, a library check);
    a candidate it refuses is dropped, never reported with a low score. ``context`` words near the value raise
    the score by ``context_boost`` (capped at 1.0); ``negative_context`` words lower it by the same amount.
    ``requires_context``: report only when a context word is near (dates of birth, generic high-entropy tokens).
    """

    name: str
    entity: str
    patterns: tuple[Pattern, ...]
    category: str
    severity: str = "medium"
    validator: Callable[[str], bool] | None = None
    validator_name: str | None = None
    context: tuple[str, ...] = ()
    negative_context: tuple[str, ...] = ()
    context_boost: float = 0.25
    requires_context: bool = False
    languages: tuple[str, ...] = ("en",)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"recogniser {self.name!r}: unknown severity {self.severity!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"recogniser {self.name!r}: unknown category {self.category!r}")
        if not self.patterns:
            raise ValueError(f"recogniser {self.name!r} has no patterns")


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a finding was reported: the recogniser and pattern, the validator that confirmed it, the context words."""

    recognizer: str
    pattern: str
    validator: str | None = None
    context: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """An entity found at ``text[start:end]`` (Python string offsets). The matched value is not kept here, so a
    finding can be logged or stored without the sensitive text."""

    entity: str
    start: int
    end: int
    score: float
    category: str
    severity: str
    reason: Reason = field(compare=False)

    def as_dict(self) -> dict[str, object]:
        return {"entity": self.entity, "start": self.start, "end": self.end, "score": round(self.score, 4),
                "category": self.category, "severity": self.severity,
                "reason": {"recognizer": self.reason.recognizer, "pattern": self.reason.pattern,
                           "validator": self.reason.validator, "context": list(self.reason.context)}}
