"""Detectors: each turns a text into hits (where, which types, how sure), knowing nothing of actions or policies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hit:
    """A match at ``text[start:end]`` (string offsets). It holds no matched text, so it can be kept and logged."""

    start: int
    end: int
    entity_types: tuple[str, ...]
    score: float | None
    detector: str
