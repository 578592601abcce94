"""Denied topics: phrases matched case-insensitively on word boundaries and, when an embedding function is given,
the cosine similarity of the text's windows to each topic's examples.

The text is cut into overlapping windows of words, so a denied request inside a long harmless prompt still stands
out; the examples are embedded once, on first use, and kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import re2

from aicoe.engines.guardrails.detectors import Hit
from aicoe.engines.guardrails.detectors.words import word_pattern

Embed = Callable[[list[str]], list[list[float]]]

WINDOW_WORDS = 48
WINDOW_STRIDE = 24
MAX_WINDOWS = 64
BAD_EMBEDDINGS = "the embedding function returned {got} vectors for {expected} texts"

_WORD = re2.compile(r"\S+")


def windows(text: str) -> list[tuple[int, int]]:
    """Spans of overlapping word windows covering ``text``; at most :data:`MAX_WINDOWS` (the stride grows for
    long texts)."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if len(words) <= WINDOW_WORDS:
        return [(words[0][0], words[-1][1])] if words else []
    stride = max(WINDOW_STRIDE, -(-(len(words) - WINDOW_WORDS) // (MAX_WINDOWS - 1)))
    firsts = list(range(0, len(words) - WINDOW_WORDS, stride)) + [len(words) - WINDOW_WORDS]
    return [(words[i][0], words[i + WINDOW_WORDS - 1][1]) for i in firsts]


def _unit_rows(vectors: list[list[float]], expected: int) -> np.ndarray:
    if len(vectors) != expected:
        raise ValueError(BAD_EMBEDDINGS.format(got=len(vectors), expected=expected))
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0.0, 1.0, norms)


class TopicDetector:
    def __init__(self, params: Mapping[str, Any], embed: Embed | None) -> None:
        self._topics = [(t["name"], re2.compile(word_pattern(t["phrases"], True)) if t["phrases"] else None,
                         list(t["examples"])) for t in params["topics"]]
        self._similarity = params["similarity"]
        self._embed = embed if any(examples for _, _, examples in self._topics) else None
        self._examples: tuple[np.ndarray, list[str]] | None = None

    def find(self, text: str) -> list[Hit]:
        hits = []
        for name, phrases, _ in self._topics:
            match = phrases.search(text) if phrases is not None else None
            if match is not None:
                hits.append(Hit(match.start(), match.end(), (name,), 1.0, "phrase"))
        if self._embed is not None:
            named = {hit.entity_types[0] for hit in hits}
            hits.extend(hit for hit in self._similar(text, self._embed) if hit.entity_types[0] not in named)
        return hits

    def _similar(self, text: str, embed: Embed) -> list[Hit]:
        spans = windows(text)
        if not spans:
            return []
        if self._examples is None:
            examples = [(name, example) for name, _, items in self._topics for example in items]
            self._examples = (_unit_rows(embed([e for _, e in examples]), len(examples)),
                              [name for name, _ in examples])
        matrix, owners = self._examples
        similarity = _unit_rows(embed([text[s:e] for s, e in spans]), len(spans)) @ matrix.T
        best: dict[str, tuple[float, int]] = {}
        for column, name in enumerate(owners):
            row = int(np.argmax(similarity[:, column]))
            value = float(similarity[row, column])
            if value >= self._similarity and value > best.get(name, (-1.0, 0))[0]:
                best[name] = (value, row)
        return [Hit(spans[row][0], spans[row][1], (name,), round(value, 4), "embedding")
                for name, (value, row) in best.items()]
