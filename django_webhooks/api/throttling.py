"""One request budget per API key, so one integrator cannot flood the store.

The rate is ``WEBHOOKS["API_THROTTLE_RATE"]`` (DRF's ``"600/min"`` form, ``None`` for no
limit), read on every request. Counts live in Django's default cache: give several web
processes a shared cache (Redis, Memcached) or each keeps a budget of its own.

Wrong keys are budgeted too, per client address (:class:`FailedAuthenticationThrottle`):
each costs a query and a SHA-512, and DRF's throttles only run after authentication.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from ..conf import webhook_settings
from ..models import ApiKey

#: Failed authentications one client address may make; then 429 until the oldest is a
#: minute old, without a key being looked up. Off when API_THROTTLE_RATE is None.
FAILED_AUTHENTICATION_RATE = "30/min"


class FailedAuthenticationThrottle(SimpleRateThrottle):
    """Counts failures only (a throttle of DRF's counts every request it allows)."""

    scope = "django_webhooks_api_failed_authentication"

    def get_rate(self) -> str | None:
        return FAILED_AUTHENTICATION_RATE if webhook_settings.API_THROTTLE_RATE else None

    def get_cache_key(self, request: Request, view: APIView | None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def exhausted(self, request: Request) -> bool:
        if self.rate is None:
            return False
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def count_failure(self, request: Request) -> None:
        if self.rate is not None:
            self.exhausted(request)  # a fresh history: another request may have added to it
            self.throttle_success()


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "django_webhooks_api"

    def get_rate(self) -> str | None:
        return webhook_settings.API_THROTTLE_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
