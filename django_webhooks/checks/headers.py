"""Checks of the keys that encrypt custom header values (``WEBHOOKS["HEADERS_KEYS"]``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from ..conf import DEFAULTS
from .ids import ID


@register(Tags.compatibility)
def check_headers_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = getattr(settings, "WEBHOOKS", {})
    if not isinstance(raw, dict):
        return []  # E001
    keys = raw.get("HEADERS_KEYS", DEFAULTS["HEADERS_KEYS"])
    if keys is None:
        return []
    from cryptography.fernet import Fernet

    hint = (
        "A list of Fernet keys, newest first (Fernet.generate_key()), or None to derive the "
        "key from SECRET_KEY. Never drop a key before `manage.py webhooks_reseal_headers`."
    )
    if not isinstance(keys, list | tuple) or not keys:
        return [
            Error(
                f"WEBHOOKS['HEADERS_KEYS'] = {keys!r} must be a non-empty list of keys.",
                hint=hint,
                id=ID + "E040",
            )
        ]
    errors: list[CheckMessage] = []
    for position, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(
                Error(
                    f"WEBHOOKS['HEADERS_KEYS'][{position}] is not a Fernet key (32 url-safe "
                    "base64-encoded bytes).",
                    hint=hint,
                    id=ID + "E041",
                )
            )
    return errors
