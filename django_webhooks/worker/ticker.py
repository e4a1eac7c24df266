"""The ticker: the clock that wakes the queue when retries fall due.

django-q2's scheduler looks at its schedules only every ~30 s and ``async_task`` has no
delay, so retries are timed here: one thread per host, started in each qcluster worker
process, of which the one holding a file lock sleeps until the next attempt falls due or a
webhook's pause ends (looking at least twice a second) and wakes the queue for it. Every
few seconds it also sweeps (:func:`~django_webhooks.worker.tasks.sweep`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from datetime import datetime
from typing import IO, Any

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.utils import timezone

from .. import wakeup
from ..process_local import per_process
from ..timing import REWAKE_AFTER_SECONDS, SWEEP_EVERY_SECONDS, TICK_SECONDS
from .tasks import newest_due, newest_undispatched, next_due, pause_ends, sweep

logger = logging.getLogger("django_webhooks")


class Ticker(threading.Thread):
    """Wakes the queue when retries fall due or events wait; sweeps every few seconds.

    Every worker process runs one, but only the holder of a per-host, per-database file lock
    works, so a host costs a few small indexed queries a second, however many workers it runs.
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        super().__init__(name="django-webhooks-ticker", daemon=True)
        self.using = using
        self.stopping = threading.Event()
        self._lock_file: IO[str] | bool | None = None
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
        pauses = pause_ends(self.using, now)
        newest = max(
            (
                moment
                for moment in (
                    newest_due(self.using, now),
                    newest_undispatched(self.using),
                    max((end for end in pauses if end <= now), default=None),
                )
                if moment is not None
            ),
            default=None,
        )
        fresh = newest is not None and (self._watermark is None or newest > self._watermark)
        stale = newest is not None and now_monotonic - self._last_wake >= REWAKE_AFTER_SECONDS
        # A wake-up that fails (broker down) is tried again on the next tick.
        if (fresh or stale) and wakeup.wake(using=self.using):
            self._watermark = newest
            self._last_wake = now_monotonic
        upcoming = min(
            (
                moment
                for moment in (next_due(self.using, now), *(end for end in pauses if end > now))
                if moment is not None
            ),
            default=None,
        )
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


@per_process
def _ticker() -> Ticker:
    ticker = Ticker()
    ticker.start()
    return ticker


def start_ticker(**kwargs: Any) -> None:
    """``post_spawn`` receiver: every qcluster worker process gets a ticker thread."""
    _ticker.get()
