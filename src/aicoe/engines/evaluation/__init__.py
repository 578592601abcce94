"""The responsible-AI evaluation engine: performance, fairness and drift from prediction logs, exact and
mergeable, on one core, local processes or Ray (docs/evaluation.md).

``evaluate(data, ColumnSpec(...))`` is the entry point. The names below load on first use, so importing one
submodule (``io``, ``spec``...) does not pull in the whole engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aicoe.engines.evaluation.engine import evaluate
    from aicoe.engines.evaluation.errors import EvaluationError
    from aicoe.engines.evaluation.policy import Policy, load_policy
    from aicoe.engines.evaluation.result import EvaluationResult
    from aicoe.engines.evaluation.spec import ColumnSpec, Options

__all__ = ["ColumnSpec", "EvaluationError", "EvaluationResult", "Options", "Policy", "evaluate", "load_policy"]

_HOMES = {"evaluate": "engine", "ColumnSpec": "spec", "Options": "spec", "EvaluationResult": "result",
          "EvaluationError": "errors", "Policy": "policy", "load_policy": "policy"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
