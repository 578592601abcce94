"""Personal data and secrets through the sensitive-data engine: one scan for all of a policy's pii and secrets
rules (the union of their entity types at the lowest of their scores), then each rule keeps its own findings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aicoe.engines.guardrails.detectors import Hit
from aicoe.engines.sensitive.analyzer import default_analyzer
from aicoe.engines.sensitive.model import Finding


class SensitiveScan:
    """The shared scan behind every pii and secrets rule of a policy."""

    def __init__(self, params: Sequence[Mapping[str, Any]]) -> None:
        self._analyzer = default_analyzer()
        self._entities = sorted({entity for p in params for entity in p["entities"]})
        self._min_score = min((p["min_score"] for p in params), default=1.0)

    def scan(self, texts: Sequence[str]) -> list[list[Finding]]:
        if not self._entities:
            return [[] for _ in texts]
        return self._analyzer.scan_texts(list(texts), entities=self._entities, min_score=self._min_score)


def hits(findings: Sequence[Finding], params: Mapping[str, Any], detector: str) -> list[Hit]:
    """The findings one rule asked for (its entity types, at or above its score)."""
    wanted, min_score = params["entities"], params["min_score"]
    return [Hit(f.start, f.end, (f.entity,), f.score, detector) for f in findings
            if f.entity in wanted and f.score >= min_score]
