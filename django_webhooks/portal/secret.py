"""The key's signing secret: revealed on a click (and logged), rotated, and how to verify.

The secret appears only in the answer to the POST that reveals or rotates it, rendered
directly (never through a message, a cookie or a session) and never cached. Each reveal and
rotation is logged on ``django_webhooks.portal`` with the key and the client's address, never
the secret.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from ..conf import webhook_settings
from . import rendering, session, snippets, throttling
from .links import Grant, key_version
from .session import portal_view


def _page(request: HttpRequest, grant: Grant, **context: object) -> HttpResponse:
    api_key = grant.api_key
    previous = api_key.active_signing_secrets()[1:]
    return rendering.render_page(
        request,
        grant,
        "signing_secret.html",
        {
            "grace_hours": _hours(webhook_settings.SIGNING_SECRET_GRACE_HOURS),
            "previous_expires_at": (
                api_key.previous_signing_secret_expires_at if previous else None
            ),
            "rotating": key_version(api_key),
            "python_snippet": snippets.PYTHON,
            "node_snippet": snippets.NODE,
            **context,
        },
        section="secret",
    )


def _hours(hours: float) -> int | float:
    return int(hours) if float(hours).is_integer() else hours


@portal_view
def signing_secret(request: HttpRequest, grant: Grant) -> HttpResponse:
    return _page(request, grant)


@portal_view
@require_POST
def reveal(request: HttpRequest, grant: Grant) -> HttpResponse:
    api_key = grant.api_key
    session.logger.info(
        "Portal: the signing secret of API key %r (id %s) was revealed to %s.",
        api_key.name,
        api_key.pk,
        throttling.address_of(request),
    )
    return _page(request, grant, secret=api_key.signing_secret)


@portal_view
@require_POST
def rotate(request: HttpRequest, grant: Grant) -> HttpResponse:
    api_key = grant.api_key
    if request.POST.get("rotating") != key_version(api_key):
        # A resubmitted form (a reload of the page showing the new secret) would rotate
        # again and drop the secret the receiver still uses before its overlap ends.
        messages.warning(
            request,
            gettext("The signing secret was rotated meanwhile; nothing was changed."),
            fail_silently=True,
        )
        return HttpResponseRedirect(reverse("webhooks_portal:signing-secret"))
    api_key.rotate_signing_secret()
    session.logger.info(
        "Portal: the signing secret of API key %r (id %s) was rotated by %s.",
        api_key.name,
        api_key.pk,
        throttling.address_of(request),
    )
    # Rotating voids every link and session of the key; the one that rotated goes on, to
    # the same end, bound to the new secret.
    renewed = Grant(api_key=api_key, expires_at=grant.expires_at)
    response = _page(request, renewed, secret=api_key.signing_secret, rotated=True)
    return session.start(request, renewed, response)
