"""The stage-gate registry: the checks a use case must pass to move forward into a stage.

Stage gates are the one hook other areas plug into the portfolio (compliance registers "assessment complete",
reviews "ethics approval", evaluation "thresholds met"). An area writes a check and registers it::

    from aicoe.portfolio.gates import registry

    @registry.register("pilot", "compliance.assessment_complete", label="Compliance assessment complete")
    def assessment_complete(session: Session, use_case: UseCase) -> str | None:
        if not _has_complete_assessment(session, use_case.id):
            return "No completed compliance assessment for this use case."
        return None

The contract: a check is ``(session, use_case) -> str | None``. ``None`` means the check passes; a non-empty
string means it fails, and the string tells the user what is missing. A check reads, never writes. A check that
raises is reported as failed with its error (the transition is refused, not a 500), and its SQL runs inside a
savepoint so a database error does not spoil the request's transaction.

An area lists the module holding its checks in ``GATE_MODULES`` (like the jobs registry's ``HANDLER_MODULES``);
``registry.run`` imports them all before its first run, so a check is in force wherever gates are evaluated.
See docs/gates.md.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from aicoe.models.portfolio import UseCase
from aicoe.portfolio.constants import STAGES

log = logging.getLogger(__name__)

# Modules whose import registers gate checks. Add an area's module here when it gains a gate check.
GATE_MODULES: list[str] = ["aicoe.portfolio.gate_checks", "aicoe.reviews.gate_checks",
                           "aicoe.evaluation.gate_checks"]

# Checks guard the moves forward along the main path, so only the stages after the first have a gate.
GATED_STAGES: tuple[str, ...] = STAGES[1:]

CheckFn = Callable[[Session, UseCase], "str | None"]


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome for one use case, as shown to the user and stored with the transition."""

    check: str
    ok: bool
    message: str
    overridable: bool
    label: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GateCheck:
    """A registered check: the stage it guards, its stable name, what it says, and whether it can be overridden."""

    to_stage: str
    name: str
    label: str
    overridable: bool
    fn: CheckFn

    @property
    def module(self) -> str:
        return self.fn.__module__


class GateRegistry:
    """Checks by target stage, kept in registration order."""

    def __init__(self, modules: list[str] | None = None) -> None:
        self._checks: dict[str, dict[str, GateCheck]] = {stage: {} for stage in GATED_STAGES}
        self._modules = GATE_MODULES if modules is None else modules
        self._loaded = False

    def register(self, to_stage: str, name: str, *, overridable: bool = False,
                 label: str | None = None) -> Callable[[CheckFn], CheckFn]:
        """Decorator: run ``fn`` whenever a use case moves forward into ``to_stage``.

        ``name`` is the check's stable identifier (``<area>.<check>``); it names the field of the refusal's
        errors and is stored with every transition. Registering the same function again is a no-op (a module
        imported twice); another function under a taken name is an error.
        """
        if to_stage not in self._checks:
            raise ValueError(f"no gate leads into {to_stage!r}; gated stages: {', '.join(GATED_STAGES)}")
        if not name or len(name) > 80 or name != name.strip():
            raise ValueError(f"a check name must be 1-80 characters without surrounding spaces, got {name!r}")

        def decorate(fn: CheckFn) -> CheckFn:
            existing = self._checks[to_stage].get(name)
            if existing is not None and existing.fn is not fn and _qualname(existing.fn) != _qualname(fn):
                raise ValueError(f"gate check {name!r} into {to_stage!r} is already registered by "
                                 f"{_qualname(existing.fn)}")
            self._checks[to_stage][name] = GateCheck(to_stage, name, label or name, overridable, fn)
            return fn

        return decorate

    def unregister(self, to_stage: str, name: str) -> None:
        """Remove a check (tests, and deployments that switch a check off in their own start-up code)."""
        self._checks.get(to_stage, {}).pop(name, None)

    def load(self) -> None:
        """Import every module in ``GATE_MODULES`` (idempotent)."""
        if not self._loaded:
            for module in self._modules:
                importlib.import_module(module)
            self._loaded = True

    def checks(self, to_stage: str) -> list[GateCheck]:
        self.load()
        return list(self._checks.get(to_stage, {}).values())

    def all_checks(self) -> list[GateCheck]:
        self.load()
        return [check for stage in GATED_STAGES for check in self._checks[stage].values()]

    def run(self, session: Session, use_case: UseCase, to_stage: str) -> list[CheckResult]:
        """Every check into ``to_stage``, in registration order; a check that raises counts as failed."""
        return [_run_one(session, use_case, check) for check in self.checks(to_stage)]


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _run_one(session: Session, use_case: UseCase, check: GateCheck) -> CheckResult:
    try:
        with session.begin_nested():
            outcome = check.fn(session, use_case)
    except Exception as exc:  # noqa: BLE001 -- any failure of a check refuses the move; it never breaks the request
        log.exception("gate check %s into %s failed for use case %s", check.name, check.to_stage, use_case.key)
        return CheckResult(check.name, False, f"The check could not run: {type(exc).__name__}: {exc}",
                           check.overridable, check.label)
    if outcome is None:
        return CheckResult(check.name, True, "", check.overridable, check.label)
    if not isinstance(outcome, str) or not outcome.strip():
        return CheckResult(check.name, False, f"The check returned {outcome!r}; expected None or a message.",
                           check.overridable, check.label)
    return CheckResult(check.name, False, outcome.strip(), check.overridable, check.label)


registry = GateRegistry()
