"""Wrong links are budgeted per client address, like the API's wrong keys.

The API's :class:`~django_webhooks.api.throttling.FailedAuthenticationThrottle` (30 a
minute per address, the address as ``TRUSTED_PROXIES`` says), with a count of its own: a
refused link (or a forged session cookie) costs the link budget, a wrong key the API's. As in
the API, the budget decides only how a refusal is answered (403, then 429): a good link always
opens the portal, so no one can lock a third party out by sending bad links from its address.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from ..api.throttling import FailedAuthenticationThrottle, client_address


class FailedLinkThrottle(FailedAuthenticationThrottle):
    scope = "django_webhooks_portal_failed_link"


def address_of(request: HttpRequest) -> str:
    """The client's address, as the API reads it (``TRUSTED_PROXIES``)."""
    return client_address(Request(request))


def budget_exhausted(request: HttpRequest) -> float | None:
    """Seconds to wait when this address has used its budget of wrong links; else None."""
    throttle = FailedLinkThrottle()
    if throttle.exhausted(Request(request)):
        return throttle.wait() or 1.0
    return None


def count_failure(request: HttpRequest) -> None:
    FailedLinkThrottle().count_failure(Request(request))
