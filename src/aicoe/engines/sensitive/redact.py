"""Redaction operators and ``anonymize``: turn a text and its findings into a de-identified text.

Operators are small objects with a ``name`` and ``apply(value, entity) -> str``. Two are keyed: ``Hash`` gives a
value the same pseudonym wherever it appears (HMAC-SHA256, so joins across files survive de-identification
without exposing the value), and ``Encrypt`` is reversible by whoever holds the key (AES-256-GCM; the entity is
bound to the ciphertext as associated data, so a token whose entity or bytes were changed fails to decrypt).
Keys never appear in an operator's ``repr``, and ``anonymize`` records where values were, never what they were.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aicoe.engines.sensitive.model import Finding

AES_KEY_BYTES = 32
MIN_HMAC_KEY_BYTES = 16
NONCE_BYTES = 12
GCM_TAG_BYTES = 16
ENC_PREFIX = "<ENC:"

MASK_KEEP_NEGATIVE = "keep_last must be 0 or more, got {value}"
MASK_CHAR_INVALID = "mask char must be exactly one character, got {value!r}"
HASH_KEY_SHORT = "an HMAC key needs at least 16 bytes, got {size}"
HASH_LENGTH_INVALID = "hash length must be between 8 and 64 hex characters, got {value}"
AES_KEY_SIZE = "an AES-256 key must be exactly 32 bytes, got {size}"
KEY_NOT_ENCODED = "a key must be hex or base64 text"
ENTITY_NOT_TOKENIZABLE = "entity {entity!r} cannot name an encrypted token: use letters, digits and underscores"
TOKEN_INVALID = "the encrypted token at offset {offset} cannot be decrypted: wrong key or a modified token"
FINDING_OUT_OF_RANGE = "finding {entity} at {start}:{end} lies outside a text of {size} characters"
FINDINGS_OVERLAP = ("findings {first} at {first_start}:{first_end} and {second} at {second_start}:{second_end} "
                    "overlap; resolve overlaps first (the analyzer does)")

_ENTITY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_TOKEN = re.compile(r"<ENC:([A-Za-z][A-Za-z0-9_]*):([A-Za-z0-9_-]+)>")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


class DecryptionError(ValueError):
    """An encrypted token that does not decrypt: the key is wrong or the token was changed."""


class Operator(Protocol):
    """What replaces one found value. ``name`` is recorded in the anonymization items."""

    name: str

    def apply(self, value: str, entity: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Mask:
    """Mask every alphanumeric character except the last ``keep_last`` ones; separators stay, so a masked card
    or phone number keeps its shape (``****-****-****-1111``)."""

    keep_last: int = 4
    char: str = "*"
    name = "mask"

    def __post_init__(self) -> None:
        if self.keep_last < 0:
            raise ValueError(MASK_KEEP_NEGATIVE.format(value=self.keep_last))
        if len(self.char) != 1:
            raise ValueError(MASK_CHAR_INVALID.format(value=self.char))

    def apply(self, value: str, entity: str) -> str:
        to_mask = sum(ch.isalnum() for ch in value) - self.keep_last
        out = []
        for ch in value:
            if ch.isalnum() and to_mask > 0:
                out.append(self.char)
                to_mask -= 1
            else:
                out.append(ch)
        return "".join(out)


@dataclass(frozen=True, slots=True)
class Redact:
    """Remove the value entirely."""

    name = "redact"

    def apply(self, value: str, entity: str) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace the value with ``tag``, or with the entity type in angle brackets (``<EMAIL_ADDRESS>``)."""

    tag: str | None = None
    name = "replace"

    def apply(self, value: str, entity: str) -> str:
        return f"<{entity}>" if self.tag is None else self.tag


DEFAULT_OPERATOR: Operator = Replace()


class Hash:
    """A keyed pseudonym ``<ENTITY:hex>``: HMAC-SHA256 of the value, truncated to ``length`` hex characters.

    The same value gets the same pseudonym under the same key in every file and run, and nobody without the key
    can test a guess. The hash covers the value only, so a value found as two entity types still joins.
    """

    name = "hash"
    __slots__ = ("_key", "length")

    def __init__(self, key: bytes, length: int = 16) -> None:
        if len(key) < MIN_HMAC_KEY_BYTES:
            raise ValueError(HASH_KEY_SHORT.format(size=len(key)))
        if not 8 <= length <= 64:
            raise ValueError(HASH_LENGTH_INVALID.format(value=length))
        self._key = bytes(key)
        self.length = length

    def __repr__(self) -> str:
        return f"Hash(length={self.length})"

    def apply(self, value: str, entity: str) -> str:
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"<{entity}:{digest[:self.length]}>"


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A text with its tokens decrypted, and the entity of each token in order."""

    text: str
    entities: tuple[str, ...]


class Encrypt:
    """Reversible: ``<ENC:ENTITY:base64url(nonce|ciphertext|tag)>`` with AES-256-GCM and a random 96-bit nonce
    per value, so equal values give different tokens (use ``Hash`` when equal values must stay equal)."""

    name = "encrypt"
    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != AES_KEY_BYTES:
            raise ValueError(AES_KEY_SIZE.format(size=len(key)))
        self._aead = AESGCM(bytes(key))

    def __repr__(self) -> str:
        return "Encrypt()"

    def apply(self, value: str, entity: str) -> str:
        if not _ENTITY.fullmatch(entity):
            raise ValueError(ENTITY_NOT_TOKENIZABLE.format(entity=entity))
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), entity.encode("ascii"))
        return f"<ENC:{entity}:{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode('ascii')}>"

    def decrypt(self, text: str) -> Decrypted:
        """Replace every token in ``text`` by its value. Every ``<ENC:`` must begin a token that decrypts, so a
        damaged token is an error rather than text silently left behind."""
        if ENC_PREFIX not in text:
            return Decrypted(text, ())
        out: list[str] = []
        entities: list[str] = []
        pos = 0
        while (found := text.find(ENC_PREFIX, pos)) >= 0:
            token = _TOKEN.match(text, found)
            if token is None:
                raise DecryptionError(TOKEN_INVALID.format(offset=found))
            out.append(text[pos:found])
            out.append(self._open(token.group(1), token.group(2), found))
            entities.append(token.group(1))
            pos = token.end()
        out.append(text[pos:])
        return Decrypted("".join(out), tuple(entities))

    def _open(self, entity: str, payload: str, offset: int) -> str:
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            if len(raw) < NONCE_BYTES + GCM_TAG_BYTES:
                raise DecryptionError(TOKEN_INVALID.format(offset=offset))
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], entity.encode("ascii"))
            return plain.decode("utf-8")
        except (InvalidTag, binascii.Error, UnicodeDecodeError):
            raise DecryptionError(TOKEN_INVALID.format(offset=offset)) from None


def decrypt_text(text: str, key: bytes) -> str:
    """The text ``Encrypt(key)`` tokens were made from; ``DecryptionError`` for a wrong key or a modified token."""
    return Encrypt(key).decrypt(text).text


def parse_key(text: str) -> bytes:
    """Key bytes from hex (even length, hex digits only) or base64 (standard or URL-safe, padding optional)."""
    text = text.strip()
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error:
        raise ValueError(KEY_NOT_ENCODED) from None


@dataclass(frozen=True, slots=True)
class AnonymizedItem:
    """One replaced value: where it was (``start:end``), where its replacement is (``new_start:new_end``) and
    which operator made it. Never the original value."""

    entity: str
    start: int
    end: int
    new_start: int
    new_end: int
    operator: str


@dataclass(frozen=True, slots=True)
class Anonymized:
    text: str
    items: tuple[AnonymizedItem, ...]

    def counts(self) -> Counter[str]:
        """Values replaced per entity."""
        return Counter(item.entity for item in self.items)


def anonymize(text: str, findings: Iterable[Finding], operators: Mapping[str, Operator] | None = None,
              default: Operator = DEFAULT_OPERATOR) -> Anonymized:
    """Apply to each finding the operator for its entity (``operators``) or ``default``.

    Findings may come in any order but must not overlap: which of two overlapping findings wins is the
    analyzer's decision, not this function's, so an overlap is an error here.
    """
    ordered = sorted(findings, key=lambda f: (f.start, f.end))
    operators = operators or {}
    pieces: list[str] = []
    items: list[AnonymizedItem] = []
    pos = 0
    length = 0
    previous: Finding | None = None
    for finding in ordered:
        if not 0 <= finding.start <= finding.end <= len(text):
            raise ValueError(FINDING_OUT_OF_RANGE.format(entity=finding.entity, start=finding.start,
                                                         end=finding.end, size=len(text)))
        if previous is not None and finding.start < previous.end:
            raise ValueError(FINDINGS_OVERLAP.format(first=previous.entity, first_start=previous.start,
                                                     first_end=previous.end, second=finding.entity,
                                                     second_start=finding.start, second_end=finding.end))
        operator = operators.get(finding.entity, default)
        before = text[pos:finding.start]
        replacement = operator.apply(text[finding.start:finding.end], finding.entity)
        pieces += (before, replacement)
        new_start = length + len(before)
        length = new_start + len(replacement)
        items.append(AnonymizedItem(finding.entity, finding.start, finding.end, new_start, length, operator.name))
        pos = finding.end
        previous = finding
    pieces.append(text[pos:])
    return Anonymized("".join(pieces), tuple(items))
