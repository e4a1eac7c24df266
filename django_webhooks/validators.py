"""What a webhook's fields must hold; shared by the model, the admin form and the API."""

from __future__ import annotations

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
    filters.validate(value)
