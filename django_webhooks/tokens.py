"""API key tokens: ``<prefix>.<secret>``, shown once, stored only as a SHA-512 hash.

The prefix is stored in clear to find the row; the whole token is hashed. A token carries
192 random bits, so a fast hash is right here (a slow password hasher would only slow every
API call down) and the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX_LENGTH = 8
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def generate() -> tuple[str, str, str]:
    """A new ``(token, prefix, hashed)``."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LENGTH))
    token = f"{prefix}.{secrets.token_urlsafe(24)}"
    return token, prefix, hash_token(token)


def hash_token(token: str) -> str:
    return "sha512$" + hashlib.sha512(token.encode()).hexdigest()


def prefix_of(token: str) -> str:
    return token.partition(".")[0]


def matches(token: str, hashed: str) -> bool:
    return hmac.compare_digest(hash_token(token).encode(), hashed.encode())
