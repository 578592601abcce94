"""Placeholders for anonymised values, and putting the values back.

A value gets one placeholder per request, ``<EMAIL_ADDRESS_1>``, the same wherever it appears, so the model can
still tell two people apart and refer back to them; the map from placeholder to value stays in memory with the
request and is never logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import re2

PLACEHOLDER = "<{entity}_{number}>"
_PLACEHOLDER = re2.compile(r"<([A-Z][A-Z0-9_]*)_([0-9]+)>")
# The start of a placeholder cut off at the end of a text: it may be completed by the next chunk.
_PARTIAL = re2.compile(r"<[A-Z0-9_]*$")

Span = tuple[int, int, str]  # start, end, entity


def non_overlapping(spans: Iterable[Span]) -> list[Span]:
    """Spans sorted by start, dropping any that overlap one kept before it (the earlier, then the longer, wins)."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s[0], s[0] - s[1])):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


class Anonymiser:
    """Hands out placeholders; ``restore`` maps each one back to its value. Numbers continue after those in
    ``taken`` (placeholders already used in the conversation), so a new value never reuses one."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.restore: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        for placeholder in taken:
            match = _PLACEHOLDER.fullmatch(placeholder)
            if match is not None:
                entity, number = match.group(1), int(match.group(2))
                self._counts[entity] = max(self._counts.get(entity, 0), number)

    def placeholder(self, entity: str, value: str) -> str:
        key = (entity, value)
        found = self._by_value.get(key)
        if found is None:
            number = self._counts.get(entity, 0) + 1
            self._counts[entity] = number
            found = self._by_value[key] = PLACEHOLDER.format(entity=entity, number=number)
            self.restore[found] = value
        return found

    def apply(self, text: str, spans: Sequence[Span]) -> str:
        """``text`` with each span (sorted, non-overlapping) replaced by its placeholder."""
        out, position = [], 0
        for start, end, entity in spans:
            out.append(text[position:start])
            out.append(self.placeholder(entity, text[start:end]))
            position = end
        out.append(text[position:])
        return "".join(out)


def restore_text(text: str, mapping: Mapping[str, str]) -> str:
    """``text`` with every placeholder in ``mapping`` replaced by its value (others are left as they are)."""
    if not mapping or "<" not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def placeholder_spans(text: str, mapping: Mapping[str, str]) -> list[tuple[int, int]]:
    """Where placeholders of ``mapping`` are in ``text``, plus what may be a placeholder's start cut off at the
    end (up to the end of the text)."""
    if not mapping:
        return []
    spans = [m.span() for m in _PLACEHOLDER.finditer(text) if m.group(0) in mapping]
    partial = _PARTIAL.search(text)
    if partial is not None:
        spans.append(partial.span())
    return spans


def partial_placeholder(text: str, mapping: Mapping[str, str]) -> int | None:
    """Where a placeholder's start cut off at the end of ``text`` begins (None when there is none)."""
    if not mapping:
        return None
    partial = _PARTIAL.search(text)
    return partial.start() if partial is not None else None
