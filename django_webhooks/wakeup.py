"""The queue glue: ask django-q2 to run the delivery task, now or when a transaction commits.

The database rows are the truth and a queue message only wakes work up, so a lost message
(Redis down, a worker SIGKILLed) delays a delivery but never loses it: the ticker and the
sweeper in the workers (:mod:`django_webhooks.worker`) wake the queue again. Tasks are named
by dotted path, so this module needs nothing from the worker side.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction

from . import timing
from .conf import webhook_settings
from .process_local import per_process

logger = logging.getLogger("django_webhooks")

DELIVER_TASK = "django_webhooks.worker.tasks.deliver"
SWEEP_TASK = "django_webhooks.worker.tasks.sweep"

_last_wake = -timing.WAKE_DEBOUNCE_SECONDS


def wake(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Ask the cluster to deliver what is due. Never raises: a lost wake-up is swept up."""
    from django_q.tasks import async_task  # django_q's models need the app registry

    options: dict[str, Any] = {"task_name": "django_webhooks.deliver", "save": False}
    _local.enqueuing = True
    try:
        options["broker"] = _broker(webhook_settings.QUEUE_CLUSTER)
        async_task(DELIVER_TASK, using=using, q_options=options)
    except Exception:
        logger.warning(
            "Could not wake the queue; the sweeper will pick the work up.", exc_info=True
        )
        return False
    finally:
        _local.enqueuing = False
    return True


class _NotOurWakeUps(logging.Filter):
    """Drops django-q2's "Enqueued …" line for a wake-up: one per commit is noise in a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (getattr(_local, "enqueuing", False) and record.levelno <= logging.INFO)


_local = threading.local()
_quiet = _NotOurWakeUps()


def quiet_enqueue_logs() -> None:
    """Attach the filter to django-q2's logger (once; at start-up)."""
    queue_logger = logging.getLogger("django-q")
    if _quiet not in queue_logger.filters:
        queue_logger.addFilter(_quiet)


def wake_on_commit(using: str = DEFAULT_DB_ALIAS) -> Callable[[], None]:
    """Wake the queue once the current transaction commits (and never if it rolls back).

    A burst of commits in one process wakes the queue once per
    ``timing.WAKE_DEBOUNCE_SECONDS``: the run that wake-up starts dispatches whatever has
    committed by then, and the ticker wakes the queue for anything committed after it ended.
    Returns the callback registered, a new object each time.
    """
    callback = partial(_wake_unless_recent, using)
    transaction.on_commit(callback, using=using, robust=True)
    return callback


def _wake_unless_recent(using: str) -> None:
    global _last_wake
    now = time.monotonic()
    if now - _last_wake < timing.WAKE_DEBOUNCE_SECONDS:
        return
    _last_wake = now
    wake(using=using)


@per_process
def _broker(cluster: str | None) -> Any:
    """One broker (and its connection pool) per process and cluster, not one per wake-up."""
    from django_q.brokers import get_broker

    return get_broker(cluster)
