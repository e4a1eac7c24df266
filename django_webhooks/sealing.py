"""Custom header values, encrypted at rest with Fernet (``cryptography``).

Fernet is authenticated encryption (AES-128-CBC + HMAC-SHA256) with a versioned token;
``MultiFernet`` encrypts with the first key and decrypts with any, which is key rotation.
The keys are ``WEBHOOKS["HEADERS_KEYS"]`` (Fernet keys, newest first) or, when that is not
set, derived (HKDF-SHA256) from ``SECRET_KEY`` and then ``SECRET_KEY_FALLBACKS``, so a store
that rotates its SECRET_KEY the Django way keeps reading its headers. Rotation either way: put
the new key first, run ``manage.py webhooks_reseal_headers``, then drop the old key.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from .conf import webhook_settings
from .exceptions import HeadersUnreadable

_INFO = b"django-webhooks custom headers"


def keys() -> list[bytes]:
    """The Fernet keys, the one that encrypts first."""
    configured = webhook_settings.HEADERS_KEYS
    if configured:
        return [key.encode() if isinstance(key, str) else key for key in configured]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [_derived(secret) for secret in secrets if secret]


def _derived(secret: str | bytes) -> bytes:
    material = secret.encode() if isinstance(secret, str) else secret
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)
    return base64.urlsafe_b64encode(derived)


def _box() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys()])


def seal(headers: dict[str, str]) -> str:
    """``headers`` encrypted with the first key ("" for none)."""
    if not headers:
        return ""
    return _box().encrypt(json.dumps(headers).encode()).decode()


def unseal(token: str) -> dict[str, Any]:
    """The headers in ``token``; HeadersUnreadable if no key opens it."""
    if not token:
        return {}
    try:
        headers: dict[str, Any] = json.loads(_box().decrypt(token.encode()))
        return headers
    except InvalidToken:
        raise HeadersUnreadable(
            "The webhook's custom headers cannot be decrypted with the configured keys "
            "(WEBHOOKS['HEADERS_KEYS'] or SECRET_KEY and SECRET_KEY_FALLBACKS)."
        ) from None


def reseal(token: str) -> str:
    """``token`` encrypted again with the first key (after a key was added in front)."""
    if not token:
        return ""
    try:
        return _box().rotate(token.encode()).decode()
    except InvalidToken:
        raise HeadersUnreadable("No configured key decrypts these headers.") from None
