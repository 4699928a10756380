"""Encryption of the secrets the app must read back (a Slack webhook URL, a
webhook endpoint's signing secret): Fernet (AES-128-CBC with HMAC-SHA256) from
the ``cryptography`` library.

The key is ``ENCRYPTION_KEY`` when set (any string; a SHA-256 of it is used),
otherwise it is derived from ``SECRET_KEY``. Changing the key makes the stored
secrets unreadable: they must then be entered again (docs/operations.md).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the current key."""


@cache
def _fernet(key_material: str) -> Fernet:
    digest = hashlib.sha256(b"red-account-secrets:" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _cipher() -> Fernet:
    return _fernet(getattr(settings, "ENCRYPTION_KEY", "") or settings.SECRET_KEY)


def encrypt(text: str) -> str:
    """The token to store for ``text``."""
    return _cipher().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """The text of a stored token; SecretUnreadable when the key has changed."""
    try:
        return _cipher().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as error:
        raise SecretUnreadable(
            "A stored secret cannot be read with the current key; enter it again."
        ) from error


def hint(text: str, *, keep: int = 4) -> str:
    """What may be shown of a secret: its last ``keep`` characters."""
    return "\u2026" + text[-keep:] if len(text) > keep else "\u2026"
