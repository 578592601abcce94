"""The one error the evaluation engine raises for bad input. Each module keeps its messages as constants (the
tests assert them exactly); the message names the problem, the column and the counts involved."""

from __future__ import annotations


class EvaluationError(ValueError):
    """Input the engine refuses: never a wrong number instead."""
