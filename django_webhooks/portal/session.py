"""The portal's session: a signed cookie that lasts as long as the link that opened it.

Opening a link sets the cookie (the link's grant, signed with the session salt, ``max_age``
the link's remaining validity, ``HttpOnly``, ``SameSite=Lax``, limited to the portal's path)
and redirects to the portal, so the link leaves the address bar. Every portal request reads
the cookie again and redeems it like a link (:func:`.links.redeem`): an expired grant, a
revoked key or a rotated secret ends the session at its next request. No database session,
nothing stored per visitor.

Every portal page is CSRF-protected whatever the store's middleware, never cached, never
framed, and sends no referrer to other sites (``same-origin``: with ``no-referrer`` browsers
send ``Origin: null``, which Django's CSRF check refuses).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect

from ..conf import webhook_settings
from . import links, throttling
from .links import Grant, LinkRefused

logger = logging.getLogger("django_webhooks.portal")

COOKIE_NAME = "django_webhooks_portal"
#: No session cookie at all (never opened, or expired and dropped by the browser).
MISSING = "missing"
#: This address sent too many refused links or sessions.
TOO_MANY = "too_many"
#: The visitor ended the session.
ENDED = "ended"

P = ParamSpec("P")
PortalView = Callable[Concatenate[HttpRequest, Grant, P], HttpResponse]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def require_portal() -> None:
    if not webhook_settings.PORTAL:
        raise Http404


def private(response: HttpResponse) -> HttpResponse:
    """Headers every portal answer carries: it shows one key's data to its holder only."""
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True)
    response["Referrer-Policy"] = "same-origin"
    response["X-Frame-Options"] = "DENY"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _refusal_text(reason: str, session: bool) -> tuple[str, str]:
    if reason == ENDED:
        return _("You left the portal"), _(
            "Your session has ended on this device. Open the portal again with a link."
        )
    if reason == TOO_MANY:
        return _("Too many attempts"), _(
            "Too many links that do not work came from your address. Wait a minute, then "
            "open your link again."
        )
    if reason == MISSING:
        return _("Open the portal with a link"), _(
            "The store makes one for you, or your own back-end asks the store's API for one."
        )
    if reason == LinkRefused.EXPIRED and session:
        return _("Your session has ended"), _(
            "A portal session lasts as long as the link that opened it. Ask for a new link."
        )
    if reason == LinkRefused.EXPIRED:
        return _("This link has expired"), _(
            "Portal links are valid for a limited time. Ask for a new link."
        )
    if reason == LinkRefused.VOID:
        return _("This link is no longer valid"), _(
            "The API key it was made for has been revoked, or its signing secret rotated, "
            "since. Ask for a new link."
        )
    return _("This link is not valid"), _(
        "It may have been altered, or cut short when it was copied. Ask for a new link."
    )


def refused(request: HttpRequest, reason: str, *, session: bool, status: int = 403) -> HttpResponse:
    """The page that says why the portal did not open, and nothing else."""
    title, explanation = _refusal_text(reason, session)
    response = render(
        request,
        "django_webhooks/portal/refused.html",
        {"reason": reason, "title": title, "explanation": explanation, "brand": _("Webhooks")},
        status=status,
    )
    forget(response)
    return private(response)


def refuse_and_count(request: HttpRequest, reason: str, *, session: bool) -> HttpResponse:
    """A refused link (or forged session): counted; past the budget the answer is a 429."""
    wait = throttling.budget_exhausted(request)
    if wait is not None:
        response = refused(request, TOO_MANY, session=session, status=429)
        response["Retry-After"] = str(int(wait) + 1)
        return response
    throttling.count_failure(request)
    return refused(request, reason, session=session)


def start(request: HttpRequest, grant: Grant, response: HttpResponse) -> HttpResponse:
    """Set the session cookie for ``grant`` on ``response``."""
    remaining = (grant.expires_at - timezone.now()).total_seconds()
    response.set_cookie(
        COOKIE_NAME,
        links.sign(grant.api_key, grant.expires_at, links.SESSION_SALT),
        max_age=max(int(remaining), 1),
        path=_cookie_path(),
        secure=request.is_secure() or settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def forget(response: HttpResponse) -> None:
    response.delete_cookie(COOKIE_NAME, path=_cookie_path(), samesite="Lax")


def _cookie_path() -> str:
    return reverse("webhooks_portal:home")


def portal_view(view: PortalView[P]) -> Callable[..., HttpResponse]:
    """A portal page: 404 when the portal is off; the grant of a valid session, or refused."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require_portal()
        token = request.COOKIES.get(COOKIE_NAME)
        if not token:
            return refused(request, MISSING, session=True)
        try:
            grant = links.redeem(token, links.SESSION_SALT)
        except LinkRefused as refusal:
            if refusal.reason == LinkRefused.INVALID:
                return refuse_and_count(request, refusal.reason, session=True)
            return refused(request, refusal.reason, session=True)
        return private(view(request, grant, *args, **kwargs))

    # Outermost, so a POST without its token is refused before anything else runs.
    protected: Callable[..., HttpResponse] = csrf_protect(wrapper)
    return protected
