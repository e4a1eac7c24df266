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
    "CONCURRENCY": 16,
    "CONCURRENCY_PER_WEBHOOK": 4,
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
        return self._text("ORDER_MODEL")

    @property
    def ORDER_SERIALIZER(self) -> str | type | Callable[[models.Model], dict[str, Any]] | None:
        value: str | type | Callable[[models.Model], dict[str, Any]] | None = self._get(
            "ORDER_SERIALIZER"
        )
        return value

    @property
    def SOURCES(self) -> dict[str, Any] | None:
        value = self._get("SOURCES")
        return value if isinstance(value, dict) else None

    @property
    def TIMEOUT(self) -> float:
        return float(self._get("TIMEOUT"))

    @property
    def RETRY_DELAYS(self) -> tuple[float, ...]:
        return tuple(float(delay) for delay in self._get("RETRY_DELAYS"))

    @property
    def MAX_ATTEMPTS(self) -> int:
        return len(self._get("RETRY_DELAYS")) + 1

    @property
    def SUCCESS_STATUS_CODES(self) -> frozenset[int]:
        return frozenset(self._get("SUCCESS_STATUS_CODES"))

    @property
    def DEACTIVATE_STATUS_CODES(self) -> frozenset[int]:
        return frozenset(self._get("DEACTIVATE_STATUS_CODES"))

    @property
    def UNSUBSCRIBE_PHRASE(self) -> str:
        return str(self._get("UNSUBSCRIBE_PHRASE"))

    @property
    def ALLOW_PRIVATE_DESTINATIONS(self) -> bool:
        return bool(self._get("ALLOW_PRIVATE_DESTINATIONS"))

    @property
    def CONCURRENCY(self) -> int:
        return int(self._get("CONCURRENCY"))

    @property
    def CONCURRENCY_PER_WEBHOOK(self) -> int:
        return int(self._get("CONCURRENCY_PER_WEBHOOK"))

    @property
    def QUEUE_CLUSTER(self) -> str | None:
        return self._text("QUEUE_CLUSTER")

    @property
    def NOTIFY_ADMINS(self) -> bool:
        return bool(self._get("NOTIFY_ADMINS"))

    @property
    def API_THROTTLE_RATE(self) -> str | None:
        return self._text("API_THROTTLE_RATE")

    @property
    def MAX_WEBHOOKS_PER_KEY(self) -> int:
        return int(self._get("MAX_WEBHOOKS_PER_KEY"))

    @property
    def MAX_FILTER_BYTES(self) -> int:
        return int(self._get("MAX_FILTER_BYTES"))

    @property
    def TRUSTED_PROXIES(self) -> int:
        return int(self._get("TRUSTED_PROXIES"))

    @property
    def RETENTION_DAYS(self) -> int:
        return int(self._get("RETENTION_DAYS"))

    @property
    def SIGNING_SECRET_GRACE_HOURS(self) -> float:
        return float(self._get("SIGNING_SECRET_GRACE_HOURS"))

    @property
    def HEADERS_KEYS(self) -> list[str | bytes] | None:
        keys = self._get("HEADERS_KEYS")
        return list(keys) if isinstance(keys, list | tuple) and keys else None

    @property
    def PORTAL(self) -> bool:
        return bool(self._get("PORTAL"))

    @property
    def PORTAL_LINK_MAX_HOURS(self) -> int:
        return int(self._get("PORTAL_LINK_MAX_HOURS"))

    @property
    def PORTAL_BASE_URL(self) -> str | None:
        value = self._get("PORTAL_BASE_URL")
        return str(value).rstrip("/") if value else None

    @property
    def METRICS_TOKEN(self) -> str | None:
        value = self._get("METRICS_TOKEN")
        return value if isinstance(value, str) and value else None

    @property
    def TRACEPARENT_HEADER(self) -> bool:
        return bool(self._get("TRACEPARENT_HEADER"))


webhook_settings = WebhookSettings()
