"""Glue to django-q2: wake work up now, wake it when a retry falls due, sweep what was lost.

The database rows are the truth and a queue message only wakes work up, so a lost message
(Redis down, a worker SIGKILLed) delays a delivery but never loses it:

* :func:`wake` enqueues :func:`deliver`, which claims whatever is due.
* django-q2's scheduler looks at its schedules only every ~30 s and ``async_task`` has no
  delay, so retries are timed by a :class:`Ticker`: one thread per host, started in each
  qcluster worker process, of which the one holding a file lock sleeps until the next attempt
  falls due (looking at least twice a second) and wakes the queue for them.
* :func:`sweep` (every few seconds from the ticker, and every minute from a django-q2
  schedule as a safety net) releases the leases of dead workers and re-wakes events and
  attempts that nobody picked up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections, transaction
from django.utils import timezone

from .conf import webhook_settings

logger = logging.getLogger("django_webhooks")

DELIVER_TASK = "django_webhooks.queue.deliver"
SWEEP_TASK = "django_webhooks.queue.sweep"
TICK_SECONDS = 0.5
SWEEP_EVERY_SECONDS = 5.0
#: Due work that nobody claimed for this long gets another wake-up.
REWAKE_AFTER_SECONDS = 5.0
#: One process wakes the queue at most this often for new events (see wake_on_commit).
WAKE_DEBOUNCE_SECONDS = 0.2
_last_wake = -WAKE_DEBOUNCE_SECONDS
#: An event still undispatched this long after it was written lost its wake-up.
UNCLAIMED_AFTER_SECONDS = 5.0


def wake(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Ask the cluster to deliver what is due. Never raises: a lost wake-up is swept up."""
    from django_q.tasks import async_task

    options = {"task_name": "django_webhooks.deliver", "save": False}
    try:
        options["broker"] = _broker()
        async_task(DELIVER_TASK, using=using, q_options=options)
    except Exception:
        logger.warning(
            "Could not wake the queue; the sweeper will pick the work up.", exc_info=True
        )
        return False
    return True


def wake_on_commit(using: str = DEFAULT_DB_ALIAS) -> Callable[[], None]:
    """Wake the queue once the current transaction commits (and never if it rolls back).

    A burst of commits in one process wakes the queue once per
    :data:`WAKE_DEBOUNCE_SECONDS`: the run that wake-up starts dispatches whatever has
    committed by then, and the ticker wakes the queue for anything committed after it ended.
    Returns the callback registered, a new object each time.
    """
    callback = partial(_wake_unless_recent, using)
    transaction.on_commit(callback, using=using, robust=True)
    return callback


def _wake_unless_recent(using: str) -> None:
    global _last_wake
    now = time.monotonic()
    if now - _last_wake < WAKE_DEBOUNCE_SECONDS:
        return
    _last_wake = now
    wake(using=using)


_brokers: dict[tuple[int, str | None], object] = {}


def _broker():
    """One broker (and its connection pool) per process, not one per wake-up."""
    from django_q.brokers import get_broker

    key = (os.getpid(), webhook_settings.QUEUE_CLUSTER)
    broker = _brokers.get(key)
    if broker is None:
        _brokers.clear()
        broker = _brokers[key] = get_broker(webhook_settings.QUEUE_CLUSTER)
    return broker


def deliver(using: str = DEFAULT_DB_ALIAS) -> dict:
    """The django-q2 task: dispatch new events, deliver what is due (:mod:`.delivery`)."""
    from . import delivery

    stats = delivery.run(using=using, wake=wake)
    return {"claimed": stats.claimed, "sent": stats.sent, "succeeded": stats.succeeded}


def sweep(using: str = DEFAULT_DB_ALIAS) -> dict:
    """Recover what a crash or a lost wake-up left behind: dead leases, unclaimed work."""
    from . import delivery
    from .models import Event

    now = timezone.now()
    released = delivery.release_lost_claims(using=using, now=now)
    # Not an EXISTS: PostgreSQL estimates status and scheduled_for independently, expects
    # many due rows and scans the table for one; ordered by scheduled_for it reads the
    # partial index attempt_due_idx from its due end.
    due = newest_due(using, now) is not None
    stale = now - timedelta(seconds=UNCLAIMED_AFTER_SECONDS)
    undispatched = Event.objects.using(using).filter(
        dispatched_at__isnull=True, created_at__lt=stale
    )
    woke = (released > 0 or due or undispatched.exists()) and wake(using=using)
    return {"released": released, "woke": woke}


def newest_due(using: str = DEFAULT_DB_ALIAS, now: datetime | None = None) -> datetime | None:
    from .models import DeliveryAttempt

    return (
        DeliveryAttempt.objects.using(using)
        .filter(status=DeliveryAttempt.Status.SCHEDULED, scheduled_for__lte=now or timezone.now())
        .order_by("-scheduled_for")
        .values_list("scheduled_for", flat=True)
        .first()
    )


def newest_undispatched(using: str = DEFAULT_DB_ALIAS) -> datetime | None:
    from .models import Event

    return (
        Event.objects.using(using)
        .filter(dispatched_at__isnull=True)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def next_due(using: str = DEFAULT_DB_ALIAS, now: datetime | None = None) -> datetime | None:
    from .models import DeliveryAttempt

    return (
        DeliveryAttempt.objects.using(using)
        .filter(status=DeliveryAttempt.Status.SCHEDULED, scheduled_for__gt=now or timezone.now())
        .order_by("scheduled_for")
        .values_list("scheduled_for", flat=True)
        .first()
    )


class Ticker(threading.Thread):
    """Wakes the queue when retries fall due or events wait; sweeps every few seconds.

    Every worker process runs one, but only the holder of a per-host, per-database file lock
    works, so a host costs two small indexed queries a second, however many workers it runs.
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        super().__init__(name="django-webhooks-ticker", daemon=True)
        self.using = using
        self.stopping = threading.Event()
        self._lock_file = None
        self._watermark: datetime | None = None
        self._last_wake = 0.0
        self._last_sweep = 0.0

    def run(self) -> None:
        pause = TICK_SECONDS
        while not self.stopping.wait(pause):
            pause = TICK_SECONDS
            if not self._hold_lock():
                continue
            try:
                pause = self.tick()
            except Exception:
                logger.warning("Ticker failed; trying again.", exc_info=True)
                close_old_connections()
                connections[self.using].close()

    def tick(self) -> float:
        """Wake the queue if work fell due; returns how long to sleep before the next look."""
        now_monotonic = time.monotonic()
        if now_monotonic - self._last_sweep >= SWEEP_EVERY_SECONDS:
            self._last_sweep = now_monotonic
            sweep(using=self.using)
        now = timezone.now()
        newest = max(
            (
                moment
                for moment in (newest_due(self.using, now), newest_undispatched(self.using))
                if moment is not None
            ),
            default=None,
        )
        fresh = newest is not None and (self._watermark is None or newest > self._watermark)
        stale = newest is not None and now_monotonic - self._last_wake >= REWAKE_AFTER_SECONDS
        # A wake-up that fails (broker down) is tried again on the next tick.
        if (fresh or stale) and wake(using=self.using):
            self._watermark = newest
            self._last_wake = now_monotonic
        upcoming = next_due(self.using, now)
        if upcoming is None:
            return TICK_SECONDS
        return min(max((upcoming - now).total_seconds(), 0.01), TICK_SECONDS)

    def _hold_lock(self) -> bool:
        if self._lock_file is not None:
            return True
        try:
            import fcntl
        except ImportError:  # not POSIX: every worker ticks, which is only wasteful
            self._lock_file = True
            return True
        lock_file = open(_lock_path(self.using), "a+")  # noqa: SIM115 - held for the thread's life
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.close()
            return False
        self._lock_file = lock_file
        return True


def _lock_path(using: str) -> str:
    settings_dict = connections[using].settings_dict
    identity = "|".join(
        str(settings_dict.get(key, "")) for key in ("ENGINE", "NAME", "HOST", "PORT")
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"django-webhooks-ticker-{digest}.lock")


_tickers: dict[int, Ticker] = {}


def start_ticker(**kwargs) -> None:
    """``post_spawn`` receiver: every qcluster worker process gets a ticker thread."""
    pid = os.getpid()
    if pid in _tickers:
        return
    _tickers.clear()
    ticker = _tickers[pid] = Ticker()
    ticker.start()
