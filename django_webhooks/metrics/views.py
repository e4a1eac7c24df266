"""The scrape endpoint: a bearer token compared in constant time, 404 when none is set."""

from __future__ import annotations

import hashlib
import hmac

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..conf import webhook_settings
from .collector import WebhooksCollector


def _digest(text: str) -> bytes:
    # Equal-length digests: compare_digest then takes the same time whatever was sent.
    return hashlib.sha256(text.encode()).digest()


def authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        _digest(given.strip()), _digest(token)
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    token = webhook_settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: WEBHOOKS['METRICS_TOKEN'] is not set.")
    if not authorized(request, token):
        refused = HttpResponse("A bearer token is required.\n", status=401)
        refused["WWW-Authenticate"] = 'Bearer realm="django-webhooks metrics"'
        return refused
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WebhooksCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
