"""Is a token random enough to be a secret? Shannon entropy plus a token-class check.

A keyword such as "password" or "token" next to a value is weak evidence on its own: configuration files are full
of identifiers (``prod_db_backup_2024``), English words (``correcthorsebatterystaple``) and repeated filler
(``xxxxxxxxxxxxxxxxxxxx``) in that position. Generated credentials are different: they mix letters with digits
(or both cases), do not read as words and use many distinct characters. The rules below were checked by
simulation: of uniformly random tokens (base62, base64, base64url, base36, and hex of 32+) about 1 in 200 of 20
characters and fewer than 1 in 3,000 of 32 or more are refused, while identifiers, words and filler are.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from operator import mul

# Bits per character. Random 20-character base36 tokens stay above it (1 in 10,000 below), hex of 32 as well;
# "abc123abc123abc123ab" (2.6) and "aaaaaaaaaaaaaaaaaaaa" (0.0) do not.
ENTROPY_THRESHOLD = 3.0
# All-hex tokens shorter than this are more often hashes, colours or ids than secrets.
MIN_HEX_LENGTH = 32

TOKEN_CLASSES: tuple[str, ...] = ("no_letters", "letters", "hex", "words", "random")

_HEX = frozenset("0123456789abcdefABCDEF")
_SEPARATOR = r"[-_./+=]"
# A separated part that reads as a word: "prod", "Backup", "DB", "v2", "2024".
_PLAIN_WORD = r"[A-Za-z][a-z]*[0-9]*|[A-Z]+[0-9]*|[0-9]+"
# camelCase / PascalCase: "myAppSecret2024", "MyHTTPServerKey". The language of
# [A-Z]?[a-z]*(?:[A-Z][a-z]{2,}|[A-Z]{2,}|[0-9]+)+ written for a backtracking engine: after the optional lead, each
# unit takes a whole run (digits; capitals not followed by lower case; capitals whose last one starts a word of
# 2+ lower-case letters, the capitals before it being none or 2+), so a failing match cannot go exponential.
_CAMEL = r"[A-Z]?[a-z]*(?>[0-9]++|[A-Z]{2,}+(?![a-z])|(?:[A-Z]{2,})?[A-Z][a-z]{2,}+)+"
# Either two or more separated parts, each a plain word or camelCase (a part ends at a separator or the end), or,
# captured, one camelCase word (the two cannot both match: camelCase has no separator).
_PART = rf"(?>(?:{_PLAIN_WORD}|{_CAMEL})(?![^-_./+=]))"
_WORDS = re.compile(rf"{_SEPARATOR}*{_PART}(?:{_SEPARATOR}+{_PART})+{_SEPARATOR}*|({_CAMEL})")
# Below this many bits the float error of an entropy sum (at most ~1e-9 even for a million distinct characters)
# cannot reach, so a bound this far from the threshold decides as the exact sum would.
_BOUND_MARGIN = 1e-6


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s own character distribution (0.0 for an empty string)."""
    length = len(value)
    if not length:
        return 0.0
    # The terms p * log2(p), in first-occurrence order, summed by C loops: the same floats as a term-by-term sum.
    shares = [count / length for count in Counter(value).values()]
    return -sum(map(mul, shares, map(math.log2, shares)))


def _reads_as_words(value: str) -> bool:
    """Two or more separated parts that are all words, or one camelCase word with both cases (a camelCase match
    is ASCII letters and digits, so a case change means a letter of that case). One regex call."""
    match = _WORDS.fullmatch(value)
    if match is None:
        return False
    return match.lastindex is None or (value.lower() != value and value.upper() != value)


def token_class(value: str) -> str:
    """One of :data:`TOKEN_CLASSES`: what kind of string ``value`` is, checked in that order.

    "letters": no digits and a single case (a word, a passphrase, filler). "words": a snake_case, kebab-case,
    dotted or camelCase identifier whose every part is a word or a number.
    """
    if not any(map(str.isalpha, value)):
        return "no_letters"
    if not any(map(str.isdigit, value)) and (value.lower() == value or value.upper() == value):
        return "letters"
    if _HEX.issuperset(value):
        return "hex"
    return "words" if _reads_as_words(value) else "random"


def _entropy_reaches_threshold(value: str) -> bool:
    """``shannon_entropy(value) >= ENTROPY_THRESHOLD``, mostly without counting: ``d`` distinct characters in
    ``n`` give at most log2(d) bits and at least the entropy of one character n - d + 1 times and the rest once."""
    length, distinct = len(value), len(set(value))
    if math.log2(distinct) < ENTROPY_THRESHOLD - _BOUND_MARGIN:
        return False
    most = length - distinct + 1
    if math.log2(length) - most * math.log2(most) / length >= ENTROPY_THRESHOLD + _BOUND_MARGIN:
        return True
    # Otherwise count: H = log2(n) - sum(c * log2(c)) / n, the exact sum only when this lands at the threshold.
    counts = Counter(value).values()
    bits = math.log2(length) - sum(map(mul, counts, map(math.log2, counts))) / length
    if abs(bits - ENTROPY_THRESHOLD) > _BOUND_MARGIN:
        return bits > ENTROPY_THRESHOLD
    return shannon_entropy(value) >= ENTROPY_THRESHOLD


def is_random_token(value: str) -> bool:
    """Whether ``value`` looks generated: class "random" (or "hex" of at least :data:`MIN_HEX_LENGTH`
    characters) and entropy of at least :data:`ENTROPY_THRESHOLD` bits per character."""
    kind = token_class(value)
    long_hex = kind == "hex" and len(value) >= MIN_HEX_LENGTH
    return (kind == "random" or long_hex) and _entropy_reaches_threshold(value)
