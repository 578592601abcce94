"""Text similarity for duplicate detection at intake, in pure Python.

Texts become sets of *terms*: lower-cased words of three or more letters or digits, minus English stop words
and words that say nothing about a use case ("use", "case", "improve", ...), each truncated to its first six
characters. Truncation is a crude but predictable stemmer: "invoice", "invoices" and "invoicing" all become
"invoic", "automate" and "automation" become "automa". It also makes every term a substring of the words it
came from, which the candidate prefilter relies on (``LIKE '%invoic%'`` finds "Invoicing").

The similarity of two use cases is ``0.6 * J(titles) + 0.4 * J(title + problem statement)`` where ``J`` is
the Jaccard index of the term sets (shared terms / all terms). Titles carry most of the weight because they
are short and deliberate; the statements add evidence when the titles are worded differently. Two use cases
are reported as possible duplicates at ``THRESHOLD`` (0.3) or more: identical titles alone give 0.6 plus the
statement part, and one shared title word out of five (e.g. "Invoice fraud detection" vs "Invoice
processing automation") stays well below it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

THRESHOLD = 0.3
TITLE_WEIGHT = 0.6
TERM_LENGTH = 6
_WORD = re.compile(r"[a-z0-9]+")

STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or other
our ours out over own same she should so some such than that the their them then there these they this those
through to too under until up very was we were what when where which while who whom why will with would you your
via per using use used uses case cases new better improve improved improving make makes making based get help
helps want need needs ai ml tool system solution solutions project
""".split())


def terms(text: str) -> frozenset[str]:
    """The normalised terms of ``text`` (see the module docstring)."""
    return frozenset(
        word[:TERM_LENGTH] for word in _WORD.findall(text.lower())
        if len(word) >= 3 and word not in STOP_WORDS and not word.isdigit()
    )


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def similarity(title_a: str, text_a: str, title_b: str, text_b: str) -> float:
    """How alike two use cases read, 0..1: titles weigh 0.6, title plus problem statement 0.4."""
    ta, tb = terms(title_a), terms(title_b)
    whole = jaccard(ta | terms(text_a), tb | terms(text_b))
    return round(TITLE_WEIGHT * jaccard(ta, tb) + (1 - TITLE_WEIGHT) * whole, 4)


def probe_terms(title: str, text: str, limit: int = 5) -> list[str]:
    """The terms to look for in stored titles: the title's own terms, longest (usually rarest) first, topped up
    from the problem statement when the title has fewer than ``limit``."""
    chosen = sorted(terms(title), key=lambda t: (-len(t), t))[:limit]
    if len(chosen) < limit:
        extra = sorted(terms(text) - set(chosen), key=lambda t: (-len(t), t))
        chosen.extend(extra[: limit - len(chosen)])
    return chosen


def rank(title: str, text: str, candidates: Iterable[tuple[object, str, str]],
         threshold: float = THRESHOLD) -> list[tuple[object, float]]:
    """``candidates`` as (item, title, problem statement); those at or above the threshold, most similar first."""
    scored = [(item, similarity(title, text, t, s)) for item, t, s in candidates]
    return sorted([(i, s) for i, s in scored if s >= threshold], key=lambda pair: -pair[1])
