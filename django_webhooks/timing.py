"""How the engine paces itself: leases, run budgets, wake-ups and sweeps.

These are the engine's own clocks, not the store's delivery schedule (that is
``RETRY_DELAYS``, in :mod:`django_webhooks.policy`). System checks read them to tell a store
whether its django-q2 timeout fits a delivery run.
"""

from __future__ import annotations

from datetime import timedelta

from .conf import webhook_settings

#: How long a run keeps claiming new work before it hands over to a fresh task.
RUN_BUDGET_SECONDS = 20.0
#: A claimed attempt not finished within TIMEOUT + this is presumed lost with its worker.
LEASE_MARGIN_SECONDS = 10.0
#: An attempt whose worker was lost this many times is given up as failed (the next one of
#: the schedule still goes: a payload that kills workers costs at most this many per attempt).
MAX_CLAIMS = 3
#: How often the ticker looks for work that fell due.
TICK_SECONDS = 0.5
#: How often the ticker sweeps for lost leases and lost wake-ups.
SWEEP_EVERY_SECONDS = 5.0
#: Due work that nobody claimed for this long gets another wake-up.
REWAKE_AFTER_SECONDS = 5.0
#: An event still undispatched this long after it was written lost its wake-up.
UNCLAIMED_AFTER_SECONDS = 5.0
#: One process wakes the queue at most this often for new events.
WAKE_DEBOUNCE_SECONDS = 0.2


def lease_duration() -> timedelta:
    return timedelta(seconds=webhook_settings.TIMEOUT + LEASE_MARGIN_SECONDS)


def longest_run_seconds(timeout: float) -> float:
    """A run claims for RUN_BUDGET_SECONDS, then waits for requests of up to ``timeout``."""
    return RUN_BUDGET_SECONDS + timeout + LEASE_MARGIN_SECONDS
