"""Word filters: a list of words or phrases, matched case-insensitively in one linear-time RE2 pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import re2

from aicoe.engines.guardrails.detectors import Hit

WORD_ENTITY = "WORD"


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def word_pattern(words: list[str], whole_word: bool) -> str:
    """An alternation of the words; with ``whole_word`` each is bounded by ``\\b`` where it starts or ends with a
    word character (a bound next to "+" or "!" would never match). Spaces inside a phrase match any run of
    whitespace."""
    parts = []
    for word in words:
        body = r"\s+".join(re2.escape(piece) for piece in word.split())
        if whole_word and _is_word_char(word[0]):
            body = r"\b" + body
        if whole_word and _is_word_char(word[-1]):
            body += r"\b"
        parts.append(body)
    return "(?i)(?:" + "|".join(parts) + ")"


class WordsDetector:
    def __init__(self, params: Mapping[str, Any]) -> None:
        self._regex = re2.compile(word_pattern(list(params["words"]), params["whole_word"]))

    def find(self, text: str) -> list[Hit]:
        return [Hit(m.start(), m.end(), (WORD_ENTITY,), None, "words") for m in self._regex.finditer(text)
                if m.end() > m.start()]
