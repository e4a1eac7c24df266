"""One request budget per API key, so one integrator cannot flood the store.

The rate is ``WEBHOOKS["API_THROTTLE_RATE"]`` (DRF's ``"600/min"`` form, ``None`` for no
limit), read on every request. Counts live in Django's default cache: give several web
processes a shared cache (Redis, Memcached) or each keeps a budget of its own.

Wrong keys are budgeted too, per client address (:class:`FailedAuthenticationThrottle`),
since DRF's throttles only run after authentication. The client address is ``REMOTE_ADDR``:
``X-Forwarded-For`` is anyone's to write, so it is read only when
``WEBHOOKS["TRUSTED_PROXIES"]`` says how many proxies of the store's own add to it. The budget
decides only how a failure is answered (401, then 429): a valid key is never refused.
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
    # Set by SimpleRateThrottle.__init__ from the rate (None: no rate, no throttling).
    num_requests: int | None
    duration: int | None

    def get_rate(self) -> str | None:
        return FAILED_AUTHENTICATION_RATE if webhook_settings.API_THROTTLE_RATE else None

    def get_cache_key(self, request: Request, view: APIView | None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

    def exhausted(self, request: Request) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
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


def client_address(request: Request) -> str:
    """Who is asking: ``REMOTE_ADDR``, or what the store's own proxies say it is."""
    remote: str = request.META.get("REMOTE_ADDR", "")
    trusted = webhook_settings.TRUSTED_PROXIES
    forwarded: str = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not trusted or not forwarded:
        return remote
    # Each proxy appends the address it was called from: the N-th from the right is the
    # address the outermost trusted proxy saw. Entries left of it are the client's own claims.
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if len(addresses) < trusted:
        return remote
    return addresses[-trusted]
