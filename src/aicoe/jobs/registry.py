"""Job handlers by kind, the context a handler runs with, and the exceptions that steer the runner.

A handler is a plain function ``handler(ctx) -> result`` registered with ``@job_handler("area.action")``. It reads
its input from ``ctx.payload``, reports with ``ctx.progress(fraction, message)`` and calls
``ctx.check_cancelled()`` between units of work. It returns something JSON can encode. A job may run more than
once (a retry after an error, or recovery after its worker died), so handlers must be safe to repeat.

Areas list the module that registers their handlers in ``HANDLER_MODULES``; every runner imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy.orm import Session

from aicoe.config import Settings

# Modules whose import registers handlers. Add an area's module here when it gains background work.
HANDLER_MODULES: list[str] = ["aicoe.jobs.builtin", "aicoe.inventory.mlflow_sync",
                              "aicoe.compliance.evidence_reminders", "aicoe.policy.reminders", "aicoe.sensitive.jobs",
                              "aicoe.evaluation.jobs", "aicoe.gateway.value_sync", "aicoe.gateway.retention"]


class JobCancelled(Exception):
    """Raised by ``check_cancelled`` when someone asked to cancel the job; the runner marks it cancelled."""


class LeaseLost(Exception):
    """This worker no longer owns the job (its lease expired and another worker took it); stop quietly."""


class WorkerStopping(Exception):
    """The runner is shutting down; the job goes back to the queue for the next worker."""


class PermanentJobError(Exception):
    """A failure that retrying cannot fix (bad payload, missing input): fail now, without further attempts."""


class JobContext(Protocol):
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    settings: Settings

    def progress(self, fraction: float, message: str = "") -> None:
        """Record progress (0..1) and renew the lease; raises ``LeaseLost`` if another worker took the job."""

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` if cancellation was requested (``WorkerStopping`` on shutdown)."""

    def session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        """A short unit of work on the platform database (committed on success)."""


Handler = Callable[[JobContext], Any]

_HANDLERS: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``kind``; registering a different function under a taken kind is an error."""
    if not kind or len(kind) > 64:
        raise ValueError(f"job kind must be 1-64 characters, got {kind!r}")

    def decorate(handler: Handler) -> Handler:
        existing = _HANDLERS.get(kind)
        if existing is not None and existing is not handler:
            raise ValueError(f"job kind {kind!r} is already handled by {existing.__module__}.{existing.__qualname__}")
        _HANDLERS[kind] = handler
        return handler

    return decorate


def load_handlers() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)


def get_handler(kind: str) -> Handler | None:
    return _HANDLERS.get(kind)


def kinds() -> list[str]:
    return sorted(_HANDLERS)
