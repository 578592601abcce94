"""The evaluation stage-gate check (contract in ``aicoe.portfolio.gates``; list in docs/gates.md).

``evaluation.thresholds_met`` guards pilot and production: for each AI system delivering the use case
(``AISystem.use_case_id``), its latest completed run that counts for gates (``gate`` true) and checked a policy
must have passed every policy check. A system without such a run passes: whether a system must be evaluated at
all is the assessment's question, not this check's. The steering committee may override it with a reason (a
threshold is a judgement, and the override is recorded with the transition).
"""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.models.evaluation import EvaluationRun
from aicoe.models.inventory import AISystem
from aicoe.models.portfolio import UseCase
from aicoe.portfolio.gates import registry

GATED_STAGES = ("pilot", "production")
NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!="}
FAILED = "AI system {system}: evaluation run #{run} failed {failed} of {total} policy checks: {details}."


def number(value: float) -> str:
    """Three significant digits (0.231, 0.1, 1.5e-05); whole numbers from a thousand up (1234)."""
    return f"{value:.0f}" if math.isfinite(value) and abs(value) >= 1000 else f"{value:.3g}"


def describe_failure(check: dict[str, object]) -> str:
    """A failed check as the relation that held instead, e.g. "equalized_odds_difference 0.231 > 0.1"; an
    undefined value says why; failing groups, segments or features are named."""
    value, threshold = check.get("value"), float(check["threshold"])  # type: ignore[arg-type]
    if isinstance(value, int | float):
        text = f"{check['metric']} {number(float(value))} {NEGATED[str(check['comparator'])]} {number(threshold)}"
    else:
        text = f"{check['metric']}: {check.get('reason') or 'value undefined'}"
    failing = [str(f["group"]) for f in check.get("failing") or []]  # type: ignore[attr-defined]
    return f"{text} in {', '.join(failing)}" if failing and isinstance(value, int | float) else text


def latest_gating_run(session: Session, system_id: int) -> EvaluationRun | None:
    """The system's newest completed run that counts for gates and checked a policy."""
    return session.scalar(select(EvaluationRun).where(
        EvaluationRun.ai_system_id == system_id, EvaluationRun.status == "completed", EvaluationRun.gate.is_(True),
        EvaluationRun.passed.is_not(None)).order_by(EvaluationRun.finished_at.desc(), EvaluationRun.id.desc())
        .limit(1))


def thresholds_met(session: Session, use_case: UseCase) -> str | None:
    systems = session.scalars(select(AISystem).where(AISystem.use_case_id == use_case.id).order_by(AISystem.name))
    problems = []
    for system in systems:
        run = latest_gating_run(session, system.id)
        if run is None or run.passed:
            continue
        failed = [c for c in (run.result or {}).get("checks", []) if not c.get("passed")]
        problems.append(FAILED.format(system=system.name, run=run.id, failed=run.checks_failed,
                                      total=run.checks_total, details="; ".join(map(describe_failure, failed))))
    return " ".join(problems) or None


for _stage in GATED_STAGES:
    registry.register(_stage, "evaluation.thresholds_met", overridable=True,
                      label="Evaluation policy checks passed")(thresholds_met)
