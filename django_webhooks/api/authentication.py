"""``Authorization: Api-Key <token>``: who is calling the API.

A valid token authenticates as its :class:`~django_webhooks.models.ApiKey`, which becomes
``request.auth``; there is no Django user behind a key, so ``request.user`` stays anonymous.
Revoked, expired and unknown tokens all answer 401 with the same message, so a caller
learns nothing about keys that are not theirs. A token whose prefix no usable key has costs
no query (the prefixes are known to the process, refreshed at most once a second); past the
failure budget of its address, a wrong token answers 429. A valid token is always let in.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from .. import tokens
from ..models import ApiKey
from .throttling import FailedAuthenticationThrottle

KEYWORD = "Api-Key"
#: ``last_used_at`` is refreshed at most this often, so reading the API does not write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Real tokens are ~41 characters; anything much longer is not worth hashing.
MAX_TOKEN_LENGTH = 200


class ApiKeyAuthentication(BaseAuthentication):
    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None  # not ours: the permission check answers 401
        api_key = None
        if len(parts) != 2:
            message = _("Send the header as 'Authorization: Api-Key <token>'.")
        else:
            message = _("Invalid, revoked or expired API key.")
            token = parts[1].decode("ascii", "replace")
            if (
                len(token) <= MAX_TOKEN_LENGTH
                and token.isascii()
                and known_prefixes.has(tokens.prefix_of(token))
            ):
                api_key = ApiKey.objects.get_from_token(token)
        if api_key is None:
            failures = FailedAuthenticationThrottle()
            if failures.exhausted(request):
                raise Throttled(
                    failures.wait(), gettext("Too many wrong API keys from this address.")
                )
            failures.count_failure(request)
            raise AuthenticationFailed(message)
        record_use(api_key)
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        # Having a WWW-Authenticate challenge is what makes DRF answer 401 rather than 403.
        return self.keyword


class KnownPrefixes:
    """The prefixes of usable keys, per process: a token of none of them needs no lookup."""

    REFRESH_SECONDS = 1.0

    def __init__(self) -> None:
        self._prefixes: frozenset[str] = frozenset()
        self._loaded_at = -self.REFRESH_SECONDS
        self._lock = threading.Lock()

    def has(self, prefix: str) -> bool:
        if prefix in self._prefixes:
            return True
        now = time.monotonic()
        if now - self._loaded_at < self.REFRESH_SECONDS:
            return False
        with self._lock:
            if now - self._loaded_at >= self.REFRESH_SECONDS:
                self._prefixes = frozenset(ApiKey.objects.usable().values_list("prefix", flat=True))
                self._loaded_at = time.monotonic()
        return prefix in self._prefixes

    def forget(self, **kwargs: object) -> None:
        """A key was added or changed in this process: read the prefixes again when asked."""
        self._loaded_at = -self.REFRESH_SECONDS


known_prefixes = KnownPrefixes()
post_save.connect(known_prefixes.forget, sender=ApiKey, dispatch_uid="django_webhooks.prefixes")


def record_use(api_key: ApiKey) -> None:
    """Set ``last_used_at``, unless it was set less than a minute ago."""
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if api_key.last_used_at is not None and api_key.last_used_at > stale:
        return
    # The condition repeated in SQL keeps concurrent requests from writing twice.
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
    ).update(last_used_at=now)
    api_key.last_used_at = now
