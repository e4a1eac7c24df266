"""Into the portal and out: a link opens a session, a button ends it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect

from . import links, session, throttling
from .links import LinkRefused


def open_link(request: HttpRequest, token: str) -> HttpResponse:
    """Redeem a link: set the session cookie and go to the portal, or say why not."""
    session.require_portal()
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    try:
        grant = links.redeem(token)
    except LinkRefused as refusal:
        return session.refuse_and_count(request, refusal.reason, session=False)
    session.logger.info(
        "Portal opened for API key %r (id %s) from %s, until %s.",
        grant.api_key.name,
        grant.api_key.pk,
        throttling.address_of(request),
        grant.expires_at.isoformat(),
    )
    response = HttpResponseRedirect(reverse("webhooks_portal:home"))
    return session.private(session.start(request, grant, response))


@csrf_protect
def end_session(request: HttpRequest) -> HttpResponse:
    session.require_portal()
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return session.refused(request, session.ENDED, session=True, status=200)
