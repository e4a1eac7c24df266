"""What a webhook's fields must hold; shared by the model, the admin form and the API."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from . import address_guard, events, filters
from .conf import webhook_settings

URL_MAX_LENGTH = 2048


def validate_destination_url(value: str) -> None:
    """http(s), a host, no ``user:password@``, at most 2,048 characters.

    Unless ``ALLOW_PRIVATE_DESTINATIONS``, also no host that is plainly non-public: an IP
    literal the address guard refuses, or ``localhost``. Names that merely resolve to such
    addresses are refused by the transport at connect time.
    """
    if len(value) > URL_MAX_LENGTH:
        raise ValidationError(
            _("Use at most %(max)d characters."), code="max_length", params={"max": URL_MAX_LENGTH}
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValidationError(_("Enter a valid URL."), code="invalid") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError(_("Use an http:// or https:// URL."), code="scheme")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            _("Leave credentials (user:password@) out of the URL."), code="credentials"
        )
    if not parts.hostname:
        raise ValidationError(_("Give the URL a host name."), code="host")
    URLValidator(schemes=["http", "https"])(value)
    reason = _private_host_reason(parts.hostname)
    if reason:
        raise ValidationError(
            _("Deliveries to this host are not allowed: %(reason)s."),
            code="private",
            params={"reason": reason},
        )


def _private_host_reason(host: str) -> str | None:
    if webhook_settings.ALLOW_PRIVATE_DESTINATIONS:
        return None
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback address"
    try:
        return address_guard.refusal_reason(host)
    except ValueError:  # a name, not an IP literal
        return None


def validate_event_types(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Choose at least one event."), code="empty")
    unknown = [
        item for item in value if not isinstance(item, str) or not events.is_registered(item)
    ]
    if unknown:
        raise ValidationError(
            _("Unknown event type: %(types)s."),
            code="unknown",
            params={"types": ", ".join(map(str, unknown))},
        )


def validate_filter(value: object) -> None:
    limit = webhook_settings.MAX_FILTER_BYTES
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8", "replace")) > limit:
        raise ValidationError(
            _("A filter may take at most %(limit)d bytes of JSON."),
            code="too_large",
            params={"limit": limit},
        )
    filters.validate(value)


def validate_webhook_count(api_key: object, adding: int = 1) -> None:
    """At most ``MAX_WEBHOOKS_PER_KEY`` webhooks per key (one flood cannot crowd the others)."""
    limit = webhook_settings.MAX_WEBHOOKS_PER_KEY
    if api_key.webhooks.count() + adding > limit:  # type: ignore[attr-defined]
        raise ValidationError(
            _("This API key already has %(limit)d webhooks, the most it may have."),
            code="too_many",
            params={"limit": limit},
        )


_SURROGATE = re.compile("[\ud800-\udfff]")


def first_surrogate(value: object) -> bool:
    """Whether ``value`` (text, or JSON made of dicts and lists) holds a lone surrogate.

    JSON's ``\\ud800`` escapes decode to such code points, which no UTF-8 text can hold: a
    database or an encoder meeting one fails.
    """
    if isinstance(value, str):
        return bool(_SURROGATE.search(value))
    if isinstance(value, dict):
        return any(first_surrogate(key) or first_surrogate(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(first_surrogate(item) for item in value)
    return False


def scrub_surrogates(value: object) -> object:
    """``value`` with every lone surrogate replaced by U+FFFD (for output, never for input)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrub_surrogates(key): scrub_surrogates(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_surrogates(item) for item in value]
    return value
