"""The built-in recognisers: personal and financial identifiers, and secrets.

Each module declares ``RECOGNIZERS`` as data (patterns, validator, context, severity, category); the analyzer
compiles them. Pass a different tuple to ``Analyzer(recognizers=...)`` to scan with a subset or your own.
"""

from aicoe.engines.sensitive.model import PatternRecognizer
from aicoe.engines.sensitive.recognizers import identifiers, secrets

DEFAULT_RECOGNIZERS: tuple[PatternRecognizer, ...] = identifiers.RECOGNIZERS + secrets.RECOGNIZERS

__all__ = ["DEFAULT_RECOGNIZERS"]
