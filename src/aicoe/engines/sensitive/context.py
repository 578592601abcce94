"""Context words: which of a recogniser's words stand near a candidate, and how they move its score.

The window is a few words either side of the value and never crosses a line break, so a caller may join many
values with "\\n" and scan them as one text without one value lending context to its neighbour. Words are
compared after the same normalisation on both sides (lower case, split at anything that is not a letter or digit,
camelCase split), and a trailing "s" on the text's word is accepted ("emails" counts for "email").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

WORDS_BEFORE = 6
WORDS_AFTER = 3
# The most characters looked at on each side; enough for the words above without scanning a long line.
SPAN_CHARS = 80
# Windows remembered per rule (then forgotten all at once): bounded memory on text that never repeats.
MEMO_SIZE = 1024

_WORD = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# ASCII bytes: letters and digits lower-cased, everything else a space; and each byte's shape: "U" for an upper-case
# letter, "a" for a lower-case letter or a digit, " " for the rest.
_LOWER_RUNS = bytes(code if code < 128 and chr(code).isalnum() else 32 for code in range(256)).lower()
_SHAPE = bytes((85 if chr(code).isupper() else 97) if code < 128 and chr(code).isalnum() else 32
               for code in range(256))

Found = tuple[tuple[str, ...], tuple[str, ...]]


def split_words(text: str) -> tuple[str, ...]:
    """Lower-cased words of ``text``: "customerEmail_2" -> ("customer", "email", "2"). Used for column names.

    By definition ``_WORD.findall(_CAMEL.sub(" ", text).lower())``; ASCII text takes a path of C-level string
    methods, several times faster than the two regex passes (a context window is split on every candidate). There
    a word is a run of letters and digits, and a camelCase boundary needs an upper-case letter right after a letter
    or digit: without one, the runs are the words.
    """
    if text.isascii():
        data = text.encode("ascii")
        shape = data.translate(_SHAPE)
        if b"aU" not in shape and b"UU" not in shape:
            return tuple(data.translate(_LOWER_RUNS).decode("ascii").split())
    return tuple(_WORD.findall(_CAMEL.sub(" ", text).lower()))


@dataclass(frozen=True, slots=True)
class ContextRule:
    """A recogniser's context words, normalised once: ``words`` raise the score, ``negative`` lower it.

    Each entry is (declared word, normalised phrase, whether the phrase is a single word). ``tokens`` are the
    phrases' words: a window whose lower-cased text contains none of them as a substring cannot hold a context
    word, which spares tokenising most windows; ``positive_tokens`` are the positive phrases' words alone.
    """

    words: tuple[tuple[str, str, bool], ...]
    negative: tuple[tuple[str, str, bool], ...]
    boost: float
    tokens: tuple[str, ...] = field(default=())
    positive_tokens: tuple[str, ...] = field(default=())
    # found()'s answers by window: a value alone on its line, and templated text, ask the same question often.
    _memo: dict[str, Found] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def build(cls, words: Iterable[str], negative: Iterable[str], boost: float) -> ContextRule:
        positive, negative = _entries(words), _entries(negative)
        tokens = sorted({token for _, phrase, _ in positive + negative for token in phrase.split()})
        positive_tokens = sorted({token for _, phrase, _ in positive for token in phrase.split()})
        return cls(positive, negative, boost, tuple(tokens), tuple(positive_tokens))

    def __bool__(self) -> bool:
        return bool(self.words or self.negative)

    def found(self, near: str) -> Found:
        """The declared positive and negative words present in ``near`` (from :func:`window`/:func:`extra_words`)."""
        known = self._memo.get(near)
        if known is None:
            tokens = set(near.split())
            tokens.update([token[:-1] for token in tokens if token.endswith("s")])
            known = _present(self.words, near, tokens), _present(self.negative, near, tokens)
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[near] = known
        return known

    def near(self, text: str, start: int, end: int, extra: str, extra_found: Found, *,
             positive_only: bool = False) -> Found:
        """The words found around ``text[start:end]`` together with ``extra`` (whose own result, ``extra_found``,
        is what is left when the window cannot hold a word).

        ``positive_only``: the caller drops the value unless a positive word is found, so when ``extra`` has none
        the window is looked at only if it may hold one (a window without a positive phrase's word adds none: its
        words are substrings of its lower-cased text, and a phrase never spans the window and ``extra``).
        """
        left_at, right_at = _bounds(text, start, end)
        lowered = text[left_at:right_at].lower()
        for token in self.positive_tokens if positive_only and not extra_found[0] else self.tokens:
            if token in lowered:
                return self.found(_window(text, start, end, left_at, right_at) + extra)
        return extra_found

    def score(self, base: float, positive: bool, negative: bool) -> float:
        """``base`` raised by the boost when a positive word is near, lowered when a negative one is."""
        score = base + self.boost * (positive - negative)
        return round(min(1.0, max(0.0, score)), 4)


def _entries(words: Iterable[str]) -> tuple[tuple[str, str, bool], ...]:
    entries = []
    for word in words:
        phrase = " ".join(split_words(word))
        entries.append((word, phrase, " " not in phrase))
    return tuple(entries)


def _present(entries: tuple[tuple[str, str, bool], ...], near: str, tokens: set[str]) -> tuple[str, ...]:
    return tuple(word for word, phrase, single in entries
                 if (phrase in tokens if single else f" {phrase} " in near or f" {phrase}s " in near))


def _bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the window around ``text[start:end]`` starts and ends: at most :data:`SPAN_CHARS` away, same line."""
    line_start = text.rfind("\n", max(0, start - SPAN_CHARS), start) + 1
    line_end = text.find("\n", end, end + SPAN_CHARS)
    return max(line_start, start - SPAN_CHARS), min(len(text), end + SPAN_CHARS) if line_end == -1 else line_end


def window(text: str, start: int, end: int) -> str:
    """The words around ``text[start:end]`` on its own line, as " w1 w2 … | … wn " (the value is not included).

    The separator "|" keeps a phrase from being matched across the value itself; a word cut by the span limit is
    left out.
    """
    return _window(text, start, end, *_bounds(text, start, end))


def _window(text: str, start: int, end: int, left_at: int, right_at: int) -> str:
    before = split_words(text[left_at:start])
    if before and left_at > 0 and text[left_at - 1].isalnum() and text[left_at].isalnum():
        before = before[1:]
    after = split_words(text[end:right_at])
    if after and right_at < len(text) and text[right_at - 1].isalnum() and text[right_at].isalnum():
        after = after[:-1]
    return " " + " ".join(before[-WORDS_BEFORE:]) + " | " + " ".join(after[:WORDS_AFTER]) + " "


def extra_words(words: Iterable[str]) -> str:
    """Caller-supplied context (e.g. a column name's words) in the form :func:`window` returns."""
    return " " + " ".join(token for word in words for token in split_words(word)) + " "
