"""One request budget per API key, so one integrator cannot flood the store.

The rate is ``WEBHOOKS["API_THROTTLE_RATE"]`` (DRF's ``"600/min"`` form, ``None`` for no
limit), read on every request. Counts live in Django's default cache: give several web
processes a shared cache (Redis, Memcached) or each keeps a budget of its own.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from ..conf import webhook_settings
from ..models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "django_webhooks_api"

    def get_rate(self) -> str | None:
        return webhook_settings.API_THROTTLE_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
