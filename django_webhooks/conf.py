"""The ``WEBHOOKS`` settings dict, typed, with defaults, read at every access.

Reading at access (never caching at import) is what lets ``override_settings`` and
per-process configuration work. Validation lives in :mod:`django_webhooks.checks`; this
module only converts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models

DEFAULTS: dict[str, Any] = {
    # The public settings (README: "Settings").
    "ORDER_MODEL": None,
    "ORDER_SERIALIZER": None,
    "TIMEOUT": 5,
    "RETRY_DELAYS": [60, 120, 180, 240, 300],
    "SUCCESS_STATUS_CODES": [200],
    "DEACTIVATE_STATUS_CODES": [400, 401, 403, 404, 405, 406, 410, 411],
    "UNSUBSCRIBE_PHRASE": "please unsubscribe me",
    "ALLOW_PRIVATE_DESTINATIONS": False,
    "SOURCES": None,
    # Ours.
    "CONCURRENCY": 128,
    "CONCURRENCY_PER_WEBHOOK": 64,
    "QUEUE_CLUSTER": None,
    "NOTIFY_ADMINS": False,
    "API_THROTTLE_RATE": "600/min",
    "TRUSTED_PROXIES": 0,
    "MAX_WEBHOOKS_PER_KEY": 50,
    "MAX_FILTER_BYTES": 8192,
    "RETENTION_DAYS": 30,
    "SIGNING_SECRET_GRACE_HOURS": 24,
    # Fernet keys for custom header values, newest first; None: derived from SECRET_KEY.
    "HEADERS_KEYS": None,
    # The consumer portal (django_webhooks.portal).
    "PORTAL": True,
    "PORTAL_LINK_MAX_HOURS": 24,
    "PORTAL_BASE_URL": None,
    # GET /metrics answers a request with "Authorization: Bearer <token>"; None: it answers 404.
    "METRICS_TOKEN": None,
    # Send the event's W3C traceparent to the receiver (observability/tracing.py).
    "TRACEPARENT_HEADER": True,
}


class WebhookSettings:
    """Typed accessors over ``settings.WEBHOOKS``."""

    @staticmethod
    def raw() -> dict[str, Any]:
        value = getattr(settings, "WEBHOOKS", {})
        return value if isinstance(value, dict) else {}

    def _get(self, name: str) -> Any:
        return self.raw().get(name, DEFAULTS[name])

    def _text(self, name: str) -> str | None:
        value = self._get(name)
        return None if value is None else str(value)

    @property
    def ORDER_MODEL(self) -> str | None:
        """The ``"app_label.Model"`` whose saves and deletes fire the order events (default: none);
        the shorthand of ``SOURCES``.
        """
        return self._text("ORDER_MODEL")

    @property
    def ORDER_SERIALIZER(self) -> str | type | Callable[[models.Model], dict[str, Any]] | None:
        """Dotted path to a DRF serializer class (or a callable ``order -> dict``) for
        ``data.object``; default: every concrete field.
        """
        value: str | type | Callable[[models.Model], dict[str, Any]] | None = self._get(
            "ORDER_SERIALIZER"
        )
        return value

    @property
    def SOURCES(self) -> dict[str, Any] | None:
        """The models whose changes are events (docs/sources.md); default: from ``ORDER_MODEL``."""
        value = self._get("SOURCES")
        return value if isinstance(value, dict) else None

    @property
    def TIMEOUT(self) -> float:
        """Seconds for one whole attempt: connect, send and the complete answer (default 5, at most
        300).
        """
        return float(self._get("TIMEOUT"))

    @property
    def RETRY_DELAYS(self) -> tuple[float, ...]:
        """Seconds after the previous attempt ended, one per retry (default 60, 120, 180, 240, 300;
        each at most a year).
        """
        return tuple(float(delay) for delay in self._get("RETRY_DELAYS"))

    @property
    def MAX_ATTEMPTS(self) -> int:
        """Attempts in all: ``len(RETRY_DELAYS) + 1`` (derived, not a key of ``WEBHOOKS``)."""
        return len(self._get("RETRY_DELAYS")) + 1

    @property
    def SUCCESS_STATUS_CODES(self) -> frozenset[int]:
        """The answers that count as delivered (default ``[200]``)."""
        return frozenset(self._get("SUCCESS_STATUS_CODES"))

    @property
    def DEACTIVATE_STATUS_CODES(self) -> frozenset[int]:
        """The answers that switch the webhook off (default 400, 401, 403, 404, 405, 406, 410,
        411).
        """
        return frozenset(self._get("DEACTIVATE_STATUS_CODES"))

    @property
    def UNSUBSCRIBE_PHRASE(self) -> str:
        """Found in an answer's body (any case, the receiver's own words), the webhook is deleted
        (default "please unsubscribe me").
        """
        return str(self._get("UNSUBSCRIBE_PHRASE"))

    @property
    def ALLOW_PRIVATE_DESTINATIONS(self) -> bool:
        """Allow loopback, private, link-local and other non-public destinations: development and
        tests only (default False).
        """
        return bool(self._get("ALLOW_PRIVATE_DESTINATIONS"))

    @property
    def CONCURRENCY(self) -> int:
        """Requests one delivery run (one worker process) keeps in flight (default 128)."""
        return int(self._get("CONCURRENCY"))

    @property
    def CONCURRENCY_PER_WEBHOOK(self) -> int:
        """The ceiling of a webhook's learned concurrency limit, over all workers (default 64).

        Each webhook's limit starts at 4 and moves with its receiver's answers
        (:mod:`django_webhooks.pacing`); this is as high as it goes."""
        return int(self._get("CONCURRENCY_PER_WEBHOOK"))

    @property
    def QUEUE_CLUSTER(self) -> str | None:
        """The django-q2 cluster (queue) the delivery tasks go to (default None: the default
        cluster).
        """
        return self._text("QUEUE_CLUSTER")

    @property
    def NOTIFY_ADMINS(self) -> bool:
        """Mail ``ADMINS`` when the policy switches a webhook off or deletes it (default False)."""
        return bool(self._get("NOTIFY_ADMINS"))

    @property
    def API_THROTTLE_RATE(self) -> str | None:
        """Requests per API key, in DRF's rate syntax (default "600/min"); None turns throttling
        off.
        """
        return self._text("API_THROTTLE_RATE")

    @property
    def MAX_WEBHOOKS_PER_KEY(self) -> int:
        """Webhooks one API key may have (default 50)."""
        return int(self._get("MAX_WEBHOOKS_PER_KEY"))

    @property
    def MAX_FILTER_BYTES(self) -> int:
        """The largest filter or key scope, as JSON (default 8192)."""
        return int(self._get("MAX_FILTER_BYTES"))

    @property
    def TRUSTED_PROXIES(self) -> int:
        """How many proxies of the store's own add to ``X-Forwarded-For`` (default 0: the client is
        ``REMOTE_ADDR``).
        """
        return int(self._get("TRUSTED_PROXIES"))

    @property
    def RETENTION_DAYS(self) -> int:
        """How long ``webhooks_prune`` keeps finished attempts, in days (default 30)."""
        return int(self._get("RETENTION_DAYS"))

    @property
    def SIGNING_SECRET_GRACE_HOURS(self) -> float:
        """How long a rotated-out signing secret keeps signing beside the new one (default 24)."""
        return float(self._get("SIGNING_SECRET_GRACE_HOURS"))

    @property
    def HEADERS_KEYS(self) -> list[str | bytes] | None:
        """Fernet keys, newest first, that encrypt webhooks' custom header values (default None:
        derived from ``SECRET_KEY``); rotate with ``webhooks_reseal_headers``.
        """
        keys = self._get("HEADERS_KEYS")
        return list(keys) if isinstance(keys, list | tuple) and keys else None

    @property
    def PORTAL(self) -> bool:
        """The consumer portal, its admin link and ``POST /api/portal-link/`` (default True)."""
        return bool(self._get("PORTAL"))

    @property
    def PORTAL_LINK_MAX_HOURS(self) -> int:
        """The longest a portal link (and the session it opens) may be valid (default 24)."""
        return int(self._get("PORTAL_LINK_MAX_HOURS"))

    @property
    def PORTAL_BASE_URL(self) -> str | None:
        """The store's address in front of portal links (default None: the request's host)."""
        value = self._get("PORTAL_BASE_URL")
        return str(value).rstrip("/") if value else None

    @property
    def METRICS_TOKEN(self) -> str | None:
        """The bearer token of ``GET /metrics`` (default None: the URL answers 404)."""
        value = self._get("METRICS_TOKEN")
        return value if isinstance(value, str) and value else None

    @property
    def TRACEPARENT_HEADER(self) -> bool:
        """Send each attempt's W3C ``traceparent`` when the event was traced (default True)."""
        return bool(self._get("TRACEPARENT_HEADER"))


webhook_settings = WebhookSettings()
