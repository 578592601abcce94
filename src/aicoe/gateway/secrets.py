"""Provider API keys at rest: AES-GCM under a key derived (HKDF-SHA256) from the platform's secret key.

Tokens are versioned (``v1:<urlsafe base64 of nonce + ciphertext>``) so the scheme can change without a flag day;
the 96-bit nonce is random per encryption. Rotating the secret key makes stored provider keys unreadable: they
must be entered again.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aicoe.config import Settings

INFO = b"aicoe.gateway.provider-keys"
VERSION = "v1"
NONCE_BYTES = 12
UNREADABLE = "the stored provider key cannot be decrypted (was the secret key changed?); enter the key again"


class SecretUnreadable(ValueError):
    """A token that is malformed, of an unknown version, or sealed under another secret key."""


@lru_cache(maxsize=4)
def _cipher(signing_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(signing_key.encode())
    return AESGCM(key)


def encrypt(settings: Settings, plaintext: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(settings.signing_key).encrypt(nonce, plaintext.encode(), INFO)
    return f"{VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(settings: Settings, token: str) -> str:
    version, _, body = token.partition(":")
    if version != VERSION or not body:
        raise SecretUnreadable(UNREADABLE)
    try:
        raw = base64.urlsafe_b64decode(body.encode())
        return _cipher(settings.signing_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], INFO).decode()
    except (InvalidTag, ValueError) as exc:
        raise SecretUnreadable(UNREADABLE) from exc
