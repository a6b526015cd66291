"""Encryption of provider credentials at rest.

`cryptography`'s MultiFernet (AES-128-CBC + HMAC-SHA256, authenticated) with keys newest
first: encrypts with the first, decrypts with any, and `rotate` re-encrypts old tokens
under the newest key, so a key can be retired without losing a credential.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet


class CredentialError(Exception):
    """A ciphertext no configured key can open (wrong or retired key, or tampering)."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


class CredentialCipher:
    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError:
            raise ValueError(
                "SLOTGRAPH_SECRET_KEYS holds a malformed key; generate one with "
                "`slotgraph generate-key`"
            ) from None

    def encrypt(self, secret: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(secret, separators=(",", ":")).encode())

    def decrypt(self, ciphertext: bytes) -> dict[str, Any]:
        try:
            value: dict[str, Any] = json.loads(self._fernet.decrypt(ciphertext))
        except InvalidToken:
            raise CredentialError(
                "credential cannot be decrypted with the configured keys"
            ) from None
        return value

    def rotate(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise CredentialError(
                "credential cannot be decrypted with the configured keys"
            ) from None

    def __repr__(self) -> str:
        return "CredentialCipher(<keys hidden>)"
