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

import re2

# Bits per character. Random 20-character base36 tokens stay above it (1 in 10,000 below), hex of 32 as well;
# "abc123abc123abc123ab" (2.6) and "aaaaaaaaaaaaaaaaaaaa" (0.0) do not.
ENTROPY_THRESHOLD = 3.0
# All-hex tokens shorter than this are more often hashes, colours or ids than secrets.
MIN_HEX_LENGTH = 32

TOKEN_CLASSES: tuple[str, ...] = ("no_letters", "letters", "hex", "words", "random")

_HEX = frozenset("0123456789abcdefABCDEF")
_SEPARATORS = re.compile(r"[-_./+=]+")
# A separated part that reads as a word: "prod", "Backup", "DB", "v2", "2024".
_PLAIN_WORD = re2.compile(r"[A-Za-z][a-z]*[0-9]*|[A-Z]+[0-9]*|[0-9]+")
# camelCase / PascalCase: "myAppSecret2024", "MyHTTPServerKey". RE2, so a failing match cannot backtrack.
_CAMEL_WORDS = re2.compile(r"[A-Z]?[a-z]*(?:[A-Z][a-z]{2,}|[A-Z]{2,}|[0-9]+)+")


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s own character distribution (0.0 for an empty string)."""
    length = len(value)
    return -sum(count / length * math.log2(count / length) for count in Counter(value).values()) if length else 0.0


def _reads_as_words(value: str) -> bool:
    parts = [part for part in _SEPARATORS.split(value) if part]
    if len(parts) > 1:
        return all(_PLAIN_WORD.fullmatch(part) or _CAMEL_WORDS.fullmatch(part) for part in parts)
    mixed_case = any(char.isupper() for char in value) and any(char.islower() for char in value)
    return mixed_case and _CAMEL_WORDS.fullmatch(value) is not None


def token_class(value: str) -> str:
    """One of :data:`TOKEN_CLASSES`: what kind of string ``value`` is, checked in that order.

    "letters": no digits and a single case (a word, a passphrase, filler). "words": a snake_case, kebab-case,
    dotted or camelCase identifier whose every part is a word or a number.
    """
    if not any(char.isalpha() for char in value):
        return "no_letters"
    if not any(char.isdigit() for char in value) and (value.lower() == value or value.upper() == value):
        return "letters"
    if all(char in _HEX for char in value):
        return "hex"
    return "words" if _reads_as_words(value) else "random"


def is_random_token(value: str) -> bool:
    """Whether ``value`` looks generated: class "random" (or "hex" of at least :data:`MIN_HEX_LENGTH`
    characters) and entropy of at least :data:`ENTROPY_THRESHOLD` bits per character."""
    kind = token_class(value)
    long_hex = kind == "hex" and len(value) >= MIN_HEX_LENGTH
    return (kind == "random" or long_hex) and shannon_entropy(value) >= ENTROPY_THRESHOLD
