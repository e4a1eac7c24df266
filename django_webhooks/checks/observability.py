"""Checks of the metrics token and the traceparent header setting."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from ..conf import DEFAULTS
from .ids import ID

#: A token anyone could guess guards nothing; 16 characters of a random one are ~96 bits.
MIN_TOKEN_LENGTH = 16


@register(Tags.compatibility)
def check_observability(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = getattr(settings, "WEBHOOKS", {})
    if not isinstance(raw, dict):
        return []  # E001
    errors: list[CheckMessage] = []
    token = raw.get("METRICS_TOKEN", DEFAULTS["METRICS_TOKEN"])
    hint = "e.g. secrets.token_urlsafe(32); None turns GET /metrics off (it answers 404)."
    # The messages never show the token: check output ends up in logs and CI output.
    if token is not None and not isinstance(token, str):
        errors.append(
            Error(
                f"WEBHOOKS['METRICS_TOKEN'] must be a string or None, not {type(token).__name__}.",
                hint=hint,
                id=ID + "E060",
            )
        )
    elif isinstance(token, str) and len(token) < MIN_TOKEN_LENGTH:
        errors.append(
            Error(
                f"WEBHOOKS['METRICS_TOKEN'] is {len(token)} characters long; use at least "
                f"{MIN_TOKEN_LENGTH} random ones.",
                hint=hint,
                id=ID + "E061",
            )
        )
    header = raw.get("TRACEPARENT_HEADER", DEFAULTS["TRACEPARENT_HEADER"])
    if not isinstance(header, bool):
        errors.append(
            Error(
                f"WEBHOOKS['TRACEPARENT_HEADER'] = {header!r} must be True or False.",
                id=ID + "E062",
            )
        )
    return errors
