"""Checks of the consumer portal's settings: ``PORTAL``, ``PORTAL_LINK_MAX_HOURS``,
``PORTAL_BASE_URL``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.checks import Error

from ..conf import DEFAULTS
from .ids import ID

#: A portal link is a bearer credential: a year is already more than anyone should give one.
MAX_LINK_HOURS = 366 * 24


def check_portal(raw: dict[str, Any]) -> list[Error]:
    errors = []
    enabled = raw.get("PORTAL", DEFAULTS["PORTAL"])
    if not isinstance(enabled, bool):
        errors.append(
            Error(
                f"WEBHOOKS['PORTAL'] = {enabled!r} must be True or False.",
                hint="False switches the consumer portal off: its URLs answer 404.",
                id=ID + "E050",
            )
        )
    hours = raw.get("PORTAL_LINK_MAX_HOURS", DEFAULTS["PORTAL_LINK_MAX_HOURS"])
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_LINK_HOURS:
        errors.append(
            Error(
                f"WEBHOOKS['PORTAL_LINK_MAX_HOURS'] = {hours!r} must be a whole number of "
                f"hours from 1 to {MAX_LINK_HOURS}.",
                hint="The longest a portal link (and its session) may be valid; default 24.",
                id=ID + "E051",
            )
        )
    base_url = raw.get("PORTAL_BASE_URL", DEFAULTS["PORTAL_BASE_URL"])
    if base_url is not None and not _is_base_url(base_url):
        errors.append(
            Error(
                f"WEBHOOKS['PORTAL_BASE_URL'] = {base_url!r} must be the store's address, "
                "e.g. 'https://store.example.com', or None.",
                hint="manage.py webhooks_portal_link and POST /api/portal-link/ put it in "
                "front of the portal's path.",
                id=ID + "E052",
            )
        )
    return errors


def _is_base_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.username
        and not parts.query
        and not parts.fragment
    )
