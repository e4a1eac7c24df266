"""Checks of django-q2's settings as far as deliveries depend on them."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning

from ..conf import DEFAULTS, webhook_settings
from ..timing import longest_run_seconds
from .ids import ID, is_number

#: Q_CLUSTER keys that choose a broker other than django-q2's default, Redis.
_OTHER_BROKERS = ("orm", "sqs", "mongo", "iron_mq", "disque_nodes", "broker_class")
_EXAMPLE = (
    "e.g. Q_CLUSTER = {'name': 'store', 'orm': 'default', 'workers': 2, 'timeout': 60, "
    "'retry': 120} (the database as the broker), or 'redis': 'redis://127.0.0.1:6379/0'."
)


@register(Tags.compatibility, Tags.database)
def check_queue(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    q_cluster = getattr(settings, "Q_CLUSTER", None)
    if not q_cluster or not isinstance(q_cluster, dict):
        return [
            Error(
                "Q_CLUSTER is not set: `manage.py qcluster` would try Redis on localhost and "
                "nothing would be delivered.",
                hint=_EXAMPLE,
                id=ID + "E030",
            )
        ]
    broker_error = _broker_error(q_cluster)
    if broker_error:
        return [broker_error]
    warnings: list[CheckMessage] = []
    alias = q_cluster.get("orm")
    database: dict[str, Any] | None = settings.DATABASES.get(alias) if alias else None
    if database and database.get("ENGINE", "").endswith("sqlite3"):
        options = database.get("OPTIONS", {})
        init_command = str(options.get("init_command", "")).lower().replace(" ", "")
        if "journal_mode=wal" not in init_command:
            warnings.append(
                CheckWarning(
                    f"The django-q2 ORM broker uses the SQLite database {alias!r} without WAL.",
                    hint="Web and worker processes will see 'database is locked'. Add "
                    "OPTIONS={'init_command': 'PRAGMA journal_mode=WAL;', "
                    "'transaction_mode': 'IMMEDIATE'}.",
                    id=ID + "W002",
                )
            )
        if str(options.get("transaction_mode", "")).upper() != "IMMEDIATE":
            warnings.append(
                CheckWarning(
                    f"The SQLite database {alias!r} does not use IMMEDIATE transactions.",
                    hint="Concurrent writers then fail instead of waiting. Add "
                    "OPTIONS={'transaction_mode': 'IMMEDIATE'} (Django 5.1+).",
                    id=ID + "W005",
                )
            )
    timeout = q_cluster.get("timeout")
    delivery_timeout = webhook_settings.raw().get("TIMEOUT", DEFAULTS["TIMEOUT"])
    needed = longest_run_seconds(delivery_timeout) if is_number(delivery_timeout) else None
    if needed and timeout is not None and is_number(timeout) and timeout < needed:
        warnings.append(
            CheckWarning(
                f"Q_CLUSTER['timeout'] = {timeout} s is shorter than a delivery run "
                f"(up to {needed:g} s).",
                hint=f"Set Q_CLUSTER['timeout'] to at least {needed:g} and 'retry' above it.",
                id=ID + "W003",
            )
        )
    return warnings


def _broker_error(q_cluster: dict[str, Any]) -> Error | None:
    alias = q_cluster.get("orm")
    if alias is not None and alias not in settings.DATABASES:
        return Error(
            f"Q_CLUSTER['orm'] = {alias!r} is not a database in DATABASES.",
            hint=_EXAMPLE,
            id=ID + "E031",
        )
    uses_redis = "redis" in q_cluster or not any(key in q_cluster for key in _OTHER_BROKERS)
    if uses_redis and importlib.util.find_spec("redis") is None:
        return Error(
            "Q_CLUSTER uses the Redis broker"
            + ("" if "redis" in q_cluster else " (django-q2's default when no broker is named)")
            + ", but the redis package is not installed.",
            hint="pip install 'django-webhooks[redis]', or name another broker: " + _EXAMPLE,
            id=ID + "E031",
        )
    return None
