"""Stage transitions: which moves are allowed, the gate that guards each move forward, and the recorded decision.

Moves: one step forward on the main path (through its gate), one step back, any active stage to rejected or on
hold, on hold back to the stage it left (or to rejected), rejected back to idea (reopen). Every move needs a
reason and is recorded as a ``StageTransition`` with the gate checks as they stood, plus an audit event. A move
whose checks fail is refused with every failing check named, and nothing is written; the steering committee
(``use_case:override``) may override when every failing check is overridable, with a reason of its own.

The stage figures on the use case (stage, stage_entered_at, stage_before_hold, production_at) are kept here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicoe.audit import ledger
from aicoe.auth.principal import Actor, audit_actor
from aicoe.core.errors import Conflict, FieldError, ValidationFailed
from aicoe.core.pagination import Page, PageParams, apply_sort, paginate
from aicoe.core.time import as_utc, utcnow
from aicoe.models.portfolio import StageTransition, UseCase
from aicoe.portfolio import usecases
from aicoe.portfolio.constants import ACTIVE_STAGES, ALL_STAGES, STAGE_LABELS, STAGES
from aicoe.portfolio.gates import CheckResult, registry

MoveKind = Literal["forward", "back", "reject", "hold", "resume", "reopen"]


class GateRefused(ValidationFailed):
    """A move whose gate checks fail: ``errors`` has one entry per failing check, ``checks`` every outcome."""

    code, title = "gate-refused", "Transition refused"


# --- finding the use case ------------------------------------------------------------------------------------

def use_case_by_key(session: Session, principal: Actor, key: str) -> UseCase:
    """The use case with ``key`` if the caller may see it (404 otherwise); the use-case service decides."""
    return usecases.get_use_case(session, principal, key)


def check_may(principal: Actor, permission: str, use_case: UseCase) -> None:
    """Refuse (403) a caller who may see the use case but not act on it with ``permission``."""
    if principal is not None:
        principal.check_unit(permission, use_case.business_unit_id, hide=False)


# --- allowed moves ---------------------------------------------------------------------------------------------

def allowed_moves(use_case: UseCase) -> dict[str, MoveKind]:
    """Target stage -> kind of move, for the use case's current stage."""
    stage = use_case.stage
    moves: dict[str, MoveKind] = {}
    if stage in STAGES:
        i = STAGES.index(stage)
        if i + 1 < len(STAGES):
            moves[STAGES[i + 1]] = "forward"
        if i > 0:
            moves[STAGES[i - 1]] = "back"
    if stage in ACTIVE_STAGES:
        moves["rejected"] = "reject"
        moves["on_hold"] = "hold"
    if stage == "on_hold":
        if use_case.stage_before_hold in ACTIVE_STAGES:
            moves[use_case.stage_before_hold] = "resume"
        moves["rejected"] = "reject"
    if stage == "rejected":
        moves["idea"] = "reopen"
    return moves


def allowed_targets(use_case: UseCase) -> list[str]:
    return list(allowed_moves(use_case))


def _move_kind(use_case: UseCase, to_stage: str) -> MoveKind:
    if to_stage not in ALL_STAGES:
        raise ValidationFailed(f"unknown stage {to_stage!r}", errors=[FieldError(
            "to_stage", f"Unknown stage {to_stage!r}; stages: {', '.join(ALL_STAGES)}.")])
    moves = allowed_moves(use_case)
    if to_stage not in moves:
        allowed = ", ".join(moves) or "none"
        raise Conflict(f"{use_case.key} cannot move from {use_case.stage} to {to_stage}; allowed: {allowed}",
                       from_stage=use_case.stage, to_stage=to_stage, allowed=list(moves))
    return moves[to_stage]


# --- the gate ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Gate:
    """The checks a move must pass, as they stand now; ``checks`` is empty for moves that have no gate."""

    use_case: UseCase
    to_stage: str
    kind: MoveKind
    checks: list[CheckResult]

    @property
    def failing(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.failing

    @property
    def overridable(self) -> bool:
        """Some checks fail and every failing one may be overridden."""
        return bool(self.failing) and all(c.overridable for c in self.failing)


def gate(session: Session, use_case: UseCase, to_stage: str) -> Gate:
    """Evaluate the move without writing anything (409 if the move is not allowed, 422 for an unknown stage).

    Only a move forward along the main path passes through a gate; moves back, to hold, resume and reopen have
    no checks (the use case passed them on its way in).
    """
    kind = _move_kind(use_case, to_stage)
    checks = registry.run(session, use_case, to_stage) if kind == "forward" else []
    return Gate(use_case, to_stage, kind, checks)


def _refusal(g: Gate, *, override_hint: bool) -> GateRefused:
    failing = g.failing
    summary = "; ".join(f"{c.label or c.check}: {c.message}" for c in failing)
    errors = [FieldError(c.check, c.message) for c in failing]
    blocking = [c for c in failing if not c.overridable]
    if override_hint:
        errors.append(FieldError("override_reason", "Give a reason to override the failed checks."))
    elif blocking and len(blocking) < len(failing):
        summary += f" ({', '.join(c.label or c.check for c in blocking)} cannot be overridden)"
    noun = "check" if len(failing) == 1 else "checks"
    detail = (f"{g.use_case.key} cannot move to {STAGE_LABELS[g.to_stage]}: "
              f"{len(failing)} gate {noun} failed: {summary}")
    return GateRefused(detail, errors=errors, checks=[c.as_dict() for c in g.checks],
                       from_stage=g.use_case.stage, to_stage=g.to_stage, overridable=g.overridable)


# --- transitions ---------------------------------------------------------------------------------------------

def transition(session: Session, principal: Actor, use_case: UseCase, to_stage: str, reason: str,
               override_reason: str | None = None, *, at: datetime | None = None) -> StageTransition:
    """Move the use case to ``to_stage`` and record the decision; refuse with every failing check named.

    ``at`` backdates the decision (the demo seed's history); requests always decide now.
    """
    check_may(principal, "use_case:transition", use_case)
    session.flush()
    session.refresh(use_case, with_for_update=True)  # concurrent decisions on one use case queue here
    reason = (reason or "").strip()
    override_reason = (override_reason or "").strip() or None
    errors = []
    if to_stage not in ALL_STAGES:
        errors.append(FieldError("to_stage", f"Unknown stage {to_stage!r}; stages: {', '.join(ALL_STAGES)}."))
    if not reason:
        errors.append(FieldError("reason", "Say why: every stage decision needs a reason."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    g = gate(session, use_case, to_stage)
    if g.failing:
        can_override = principal is None or principal.has("use_case:override")
        if not g.overridable or override_reason is None:
            raise _refusal(g, override_hint=g.overridable and can_override)
        if principal is not None:
            principal.scope("use_case:override")  # 403 for anyone else
    else:
        override_reason = None  # nothing was overridden
    return _record(session, principal, use_case, g, reason, override_reason, as_utc(at) if at else utcnow())


def _record(session: Session, principal: Actor, use_case: UseCase, g: Gate, reason: str,
            override_reason: str | None, when: datetime) -> StageTransition:
    from_stage = use_case.stage
    record = StageTransition(
        use_case_id=use_case.id, from_stage=from_stage, to_stage=g.to_stage,
        decided_by_id=None if principal is None else principal.user.id, decided_by_label=audit_actor(principal).label,
        decided_at=when, reason=reason, override_reason=override_reason, checks=[c.as_dict() for c in g.checks],
    )
    session.add(record)
    use_case.stage = g.to_stage
    use_case.stage_entered_at = when
    if g.to_stage == "on_hold":
        use_case.stage_before_hold = from_stage
    elif from_stage == "on_hold":
        use_case.stage_before_hold = None
    if g.to_stage == "production" and use_case.production_at is None:
        use_case.production_at = when  # the first time: delivery time runs from intake to here
    diff: dict[str, Any] = ledger.changed(use_case)
    session.flush()
    diff.update({
        "transition_id": [None, record.id], "reason": [None, reason],
        "checks_failed": [None, [c.check for c in g.failing]],
    })
    if override_reason is not None:
        diff["override_reason"] = [None, override_reason]
    ledger.append(session, audit_actor(principal), "transition", "use_case", use_case.key, diff)
    return record


HISTORY_SORT = {"decided_at": StageTransition.decided_at, "id": StageTransition.id,
                "to_stage": StageTransition.to_stage}


def history(session: Session, use_case: UseCase, params: PageParams) -> Page[StageTransition]:
    stmt = select(StageTransition).where(StageTransition.use_case_id == use_case.id)
    return paginate(session, apply_sort(stmt, params.sort, HISTORY_SORT,
                                        [StageTransition.decided_at, StageTransition.id]), params)


# --- time in each stage ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Visit:
    """One stay in a stage; ``left_at`` is None for the stage the use case is in now."""

    stage: str
    entered_at: datetime
    left_at: datetime | None
    duration: timedelta


def _transitions(session: Session, use_case: UseCase) -> list[StageTransition]:
    return list(session.scalars(select(StageTransition).where(StageTransition.use_case_id == use_case.id)
                                .order_by(StageTransition.decided_at, StageTransition.id)))


def stage_visits(use_case: UseCase, transitions: Sequence[StageTransition], *,
                 now: datetime | None = None) -> list[Visit]:
    """The use case's stays, oldest first: it sits in its first stage from submission until the first decision,
    and in its current stage until ``now``. Without any decision, the current stage counts from
    ``stage_entered_at``."""
    end = as_utc(now) if now else utcnow()
    visits: list[Visit] = []
    stage: str | None = None
    since: datetime | None = None

    def close(until: datetime | None) -> None:
        assert stage is not None and since is not None
        stop = end if until is None else until
        visits.append(Visit(stage, since, until, max(stop - since, timedelta(0))))

    for t in sorted(transitions, key=lambda t: (as_utc(t.decided_at), t.id or 0)):
        when = as_utc(t.decided_at)
        if stage is None and t.from_stage is not None:
            stage, since = t.from_stage, as_utc(use_case.submitted_at)
        if stage is not None:
            close(when)
        stage, since = t.to_stage, when
    if stage is None:
        stage, since = use_case.stage, as_utc(use_case.stage_entered_at or use_case.submitted_at)
    close(None)
    return visits


def stage_times(session: Session, use_case: UseCase, *, now: datetime | None = None) -> dict[str, timedelta]:
    """Total time spent in each stage (several stays add up), in order of first entry."""
    totals: dict[str, timedelta] = {}
    for visit in stage_visits(use_case, _transitions(session, use_case), now=now):
        totals[visit.stage] = totals.get(visit.stage, timedelta(0)) + visit.duration
    return totals


def delivery_time(use_case: UseCase) -> timedelta | None:
    """Intake (submission) to the first entry into production; None if it never got there."""
    if use_case.production_at is None:
        return None
    return max(as_utc(use_case.production_at) - as_utc(use_case.submitted_at), timedelta(0))


def timeline(session: Session, use_case: UseCase, *, now: datetime | None = None) -> dict[str, Any]:
    visits = stage_visits(use_case, _transitions(session, use_case), now=now)
    totals: dict[str, timedelta] = {}
    for visit in visits:
        totals[visit.stage] = totals.get(visit.stage, timedelta(0)) + visit.duration
    delivery = delivery_time(use_case)
    return {
        "key": use_case.key, "stage": use_case.stage, "submitted_at": use_case.submitted_at,
        "production_at": use_case.production_at,
        "delivery_seconds": None if delivery is None else delivery.total_seconds(),
        "delivery_days": None if delivery is None else round(delivery.total_seconds() / 86400, 2),
        "stages": [{"stage": s, "label": STAGE_LABELS.get(s, s), "seconds": d.total_seconds(),
                    "days": round(d.total_seconds() / 86400, 2)} for s, d in totals.items()],
        "visits": [{"stage": v.stage, "entered_at": v.entered_at, "left_at": v.left_at,
                    "seconds": v.duration.total_seconds()} for v in visits],
    }
