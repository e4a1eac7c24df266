"""A webhook's own headers (the receiver's ``Authorization``, say): which are allowed, and how
a change applies to the stored set.

The app's own headers (CONTRACT §5, and the ``webhook-`` / ``X-Webhook-`` names Standard
Webhooks and we reserve), ``Host``, the framing and hop-by-hop headers, and the transport's
``Accept-Encoding`` (answers are read as sent) cannot be set: each would break the signature,
the deadline or the connection. Names compare case-insensitively, as HTTP does.

A change is a merge: a value sets or replaces that header, ``None`` removes it, headers left
out are kept. So a client can change one header without knowing the others, whose values it
can never read back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

RESERVED = frozenset(
    {
        # Set by the app on every attempt (CONTRACT §5) or by its transport.
        "content-type",
        "user-agent",
        "accept-encoding",
        # What the URL and the body already say.
        "host",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "expect",
        # Hop-by-hop (RFC 9110 §7.6.1), and the proxy ones.
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
    }
)
RESERVED_PREFIXES = ("webhook-", "x-webhook-")
MAX_HEADERS = 20
MAX_NAME_LENGTH = 100
MAX_VALUE_LENGTH = 4096
#: What the delivery log shows instead of a custom header's value.
REDACTED = "[redacted]"

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field-name
_VALUE = re.compile(r"[\t\x20-\x7e]*")  # visible ASCII, space and tab: no CR, LF or NUL


def problems(changes: Any) -> dict[str | None, list[str]]:
    """What is wrong with each header of a change, by the name as given; {} when nothing.

    The key None holds what is wrong with the change as a whole (not an object).
    """
    if not isinstance(changes, Mapping):
        return {None: [_("Give an object of header names to values.")]}
    found: dict[str | None, list[str]] = {}
    seen: dict[str, str] = {}
    for name, value in changes.items():
        messages = _name_problems(name) + _value_problems(value)
        lowered = str(name).lower()
        if lowered in seen and not messages:
            messages.append(_("Given twice (as “%(other)s” too).") % {"other": seen[lowered]})
        seen.setdefault(lowered, str(name))
        if messages:
            found[str(name)[:MAX_NAME_LENGTH]] = messages
    return found


def merged(stored: Mapping[str, str], changes: Mapping[str, str | None]) -> dict[str, str]:
    """``stored`` with ``changes`` applied (a valid change: see :func:`problems`)."""
    result = dict(stored)
    for name, value in changes.items():
        for existing in [key for key in result if key.lower() == name.lower()]:
            del result[existing]
        if value is not None:
            result[name] = value
    return result


def too_many(headers: Mapping[str, str]) -> str | None:
    if len(headers) > MAX_HEADERS:
        return _("At most %(max)d headers.") % {"max": MAX_HEADERS}
    return None


def _name_problems(name: Any) -> list[str]:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        return [_("Not a valid header name.")]
    if len(name) > MAX_NAME_LENGTH:
        return [_("Use at most %(max)d characters.") % {"max": MAX_NAME_LENGTH}]
    lowered = name.lower()
    if lowered in RESERVED or lowered.startswith(RESERVED_PREFIXES):
        return [_("The app sets this header itself, or it would break the delivery.")]
    return []


def _value_problems(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [_("The value must be a string (null removes the header).")]
    if not _VALUE.fullmatch(value):
        return [_("The value may hold visible ASCII, spaces and tabs only (no line breaks).")]
    if len(value) > MAX_VALUE_LENGTH:
        return [_("Use at most %(max)d characters.") % {"max": MAX_VALUE_LENGTH}]
    return []
