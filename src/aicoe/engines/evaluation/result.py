"""The structured result of an evaluation: JSON-serialisable, the one thing policies, reports, the CLI and the
platform read. ``to_dict`` turns NaN and infinities into ``None`` (each undefined value's reason sits beside it
under ``undefined``), so the dict is valid JSON and can be stored, compared and rendered later."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SCHEMA = "aicoe.evaluation/1"


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats as None, numpy scalars as Python numbers, tuples as lists (recursively)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class EvaluationResult:
    """Sections follow docs/evaluation.md: ``performance`` (always, unless the spec has no label), ``fairness``
    (with sensitive features), ``drift`` (with a reference), ``checks`` (with a policy)."""

    task: str | None
    spec: dict[str, Any]
    options: dict[str, Any]
    rows: int
    weighted: bool
    fingerprint: str
    engine: str
    elapsed_s: float
    performance: dict[str, Any] | None = None
    fairness: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    reference_rows: int | None = None
    reference_fingerprint: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """True when every policy check passed, False when one failed, None without a policy."""
        return all(c["passed"] for c in self.checks) if self.checks else None

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "schema": SCHEMA, "task": self.task, "spec": self.spec, "options": self.options, "rows": self.rows,
            "weighted": self.weighted, "fingerprint": self.fingerprint, "reference_rows": self.reference_rows,
            "reference_fingerprint": self.reference_fingerprint, "engine": self.engine,
            "elapsed_s": round(self.elapsed_s, 6), "performance": self.performance, "fairness": self.fairness,
            "drift": self.drift, "checks": self.checks, "passed": self.passed, "warnings": self.warnings})
