"""One delivery run: claim due attempts, send them side by side, record the outcomes.

One run (one django-q2 task) keeps up to ``CONCURRENCY`` threads sending, a request each
or, to a receiver that answers within milliseconds, a few of its attempts in turn
(:func:`.sending.in_turn`); to each webhook no more than its learned limit allows, counted
over every worker (:mod:`django_webhooks.pacing`: it grows while the receiver answers well
and fast and shrinks at once when it does not, up to ``CONCURRENCY_PER_WEBHOOK``), and to
one API key's webhooks no more than half the run's threads, so a receiver that never
answers holds a thread or two, not the worker, and one key's slow receivers cannot delay
another key's deliveries. Attempts are claimed only when a thread is free to send them
within a second (a turn's budget), which is what lets a short lease (``TIMEOUT`` + a
margin) detect a worker that died mid-flight. Outcomes are written in batches, one
transaction per batch.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone

from ..conf import webhook_settings
from ..exceptions import HeadersUnreadable
from ..models import DeliveryAttempt
from ..policy import Verdict
from ..timing import RUN_BUDGET_SECONDS
from .claims import RunShare, claim, give_back
from .dispatch import dispatch_pending
from .outcomes import record_outcomes
from .sending import Prepared, Sent, is_deliverable, pool, prepare, send_in_turn

logger = logging.getLogger("django_webhooks")

#: How often a busy run looks for new due work even if nothing in flight has finished: soon
#: while it has threads free (its wake-up task would wait behind this very run), at leisure
#: when it has none.
POLL_SECONDS = 0.25
POLL_SECONDS_WITH_ROOM = 0.05
#: How often a batch of outcomes, or a claim in a row with nothing in flight, is tried
#: before the run gives up (the ticker wakes the work again; leases recover the rest).
RECORD_TRIES = 3
CLAIM_TRIES = 5
#: How long a run waits for more answers after one came, to record them together.
LINGER_SECONDS = 0.01

Status = DeliveryAttempt.Status


@dataclass
class RunStats:
    claimed: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    verdicts: Counter[Verdict] = field(default_factory=Counter)


def cancel(attempts: list[DeliveryAttempt], reason: str, *, using: str) -> None:
    DeliveryAttempt.objects.using(using).filter(pk__in=[a.pk for a in attempts]).update(
        status=Status.CANCELLED, finished_at=timezone.now(), lease_expires_at=None, error=reason
    )


def _record(finished: list[Sent], using: str, share: RunShare) -> Counter[Verdict]:
    """record_outcomes, tried again when the database broke a deadlock or lost the
    connection: the answers are in memory only, and a lost record sends them again."""
    for attempt in range(RECORD_TRIES):
        try:
            return record_outcomes(finished, using=using, known=share.known)
        except DatabaseError:
            if attempt == RECORD_TRIES - 1:
                raise
            logger.warning("Recording outcomes failed; trying again.", exc_info=True)
            _drop_if_broken(using)
            time.sleep(0.05 * (attempt + 1))  # let the transaction that won finish
    raise AssertionError("unreachable")


def _drop_if_broken(using: str) -> None:
    """Close a connection that no longer works, so that the next query opens a new one."""
    connection = connections[using]
    in_use = connection.connection is not None and not connection.in_atomic_block
    if in_use and not connection.is_usable():
        connection.close()


def run(
    *,
    using: str = DEFAULT_DB_ALIAS,
    budget: float = RUN_BUDGET_SECONDS,
    wake: Callable[..., object] | None = None,
) -> RunStats:
    """Deliver what is due until nothing is, or the budget is spent (then hand over)."""
    stats = RunStats()
    concurrency = max(webhook_settings.CONCURRENCY, 1)
    threads = pool(concurrency)
    # Each future is a thread sending one webhook's attempts in turn (often just one:
    # sending.in_turn); CONCURRENCY and the keys' shares count threads.
    in_flight: dict[Future[tuple[list[Sent], list[Prepared]]], list[Prepared]] = {}
    share = RunShare(threads=concurrency)
    bodies: dict[tuple[str, str] | int, bytes] = {}
    stop_claiming_at = time.monotonic() + budget
    more_due, asked_for_help = False, False
    dispatch_at = 0.0
    claim_failures = 0
    while True:
        claimed_any = failed_claim = False
        free = concurrency - len(in_flight)
        if free > 0 and time.monotonic() < stop_claiming_at:
            # Looking for new events costs a transaction: again at once while it finds some,
            # else every POLL_SECONDS_WITH_ROOM (their wake-up task may wait behind this run).
            if time.monotonic() >= dispatch_at:
                dispatched = dispatch_pending(using)
                dispatch_at = time.monotonic() + (0 if dispatched else POLL_SECONDS_WITH_ROOM)
            try:
                attempts, more_due = claim(free, share, using=using)
            except DatabaseError:
                # A deadlock the database broke, a connection that dropped: what is in flight
                # must still be recorded (else its lease runs out and it goes twice).
                claim_failures += 1
                if claim_failures >= CLAIM_TRIES and not in_flight:
                    raise  # the database is away: the ticker wakes the work up again
                logger.warning("Claiming failed; trying again shortly.", exc_info=True)
                _drop_if_broken(using)
                time.sleep(POLL_SECONDS_WITH_ROOM)
                failed_claim = True
                attempts, more_due = [], False
            claimed_any = bool(attempts) or failed_claim
            if not failed_claim:
                claim_failures = 0
            stats.claimed += len(attempts)
            now = timezone.now()
            undeliverable = [a for a in attempts if not is_deliverable(a.webhook)]
            if undeliverable:
                cancel(
                    undeliverable,
                    "The webhook is inactive, deleted or its key revoked.",
                    using=using,
                )
                stats.cancelled += len(undeliverable)
            unrenderable, unreadable = [], []
            by_webhook: dict[int, list[Prepared]] = {}
            for attempt in attempts:
                if attempt in undeliverable:
                    continue
                try:
                    prepared = prepare(attempt, now, bodies)
                except HeadersUnreadable as error:
                    # Sent without them, an Authorization-guarded receiver would answer 401 and
                    # switch the webhook off: not sent at all, with the reason in the log.
                    logger.error("Attempt %s not sent: %s", attempt.pk, error)
                    unreadable.append(attempt)
                    continue
                except Exception:
                    # Deterministic: retrying would fail the same way. One bad event must not
                    # stop the run (and strand the others already in flight).
                    logger.exception("Cannot render event %s; not sent.", attempt.event_id)
                    unrenderable.append(attempt)
                    continue
                by_webhook.setdefault(attempt.webhook_id or 0, []).append(prepared)
            for webhook_id, prepared_for_it in by_webhook.items():
                size = share.turns.get(webhook_id, 1)  # as the claim counted its threads
                for start in range(0, len(prepared_for_it), size):
                    batch = prepared_for_it[start : start + size]
                    in_flight[threads.submit(send_in_turn, batch)] = batch
                    share.started(batch[0].attempt)
            if unrenderable:
                cancel(
                    unrenderable, "The payload could not be rendered (see the log).", using=using
                )
                stats.cancelled += len(unrenderable)
            if unreadable:
                cancel(
                    unreadable,
                    "The webhook's custom headers cannot be decrypted with the configured keys.",
                    using=using,
                )
                stats.cancelled += len(unreadable)
            if more_due and not asked_for_help and wake is not None:
                wake(using=using)  # more is due than this run can take: let another worker join
                asked_for_help = True
        if not in_flight:
            if claimed_any:
                continue
            break
        poll = POLL_SECONDS_WITH_ROOM if len(in_flight) < concurrency else POLL_SECONDS
        done, pending = wait(in_flight, timeout=poll, return_when=FIRST_COMPLETED)
        if done and pending:
            # Answers that come a moment later join this batch: one transaction records them.
            done |= wait(pending, timeout=LINGER_SECONDS, return_when=ALL_COMPLETED)[0]
        finished, unsent = [], []
        for future in done:
            batch = in_flight.pop(future)
            share.finished(batch[0].attempt)
            sent, not_sent = future.result()
            finished += sent
            unsent += [prepared.attempt for prepared in not_sent]
        if unsent:
            give_back(unsent, using=using)
        if finished:
            stats.sent += len(finished)
            verdicts = _record(finished, using, share)
            stats.verdicts.update(verdicts)
            stats.succeeded += verdicts[Verdict.SUCCEEDED]
            stats.failed += len(finished) - verdicts[Verdict.SUCCEEDED]
        if len(bodies) > 1000:
            bodies.clear()
    if time.monotonic() >= stop_claiming_at and wake is not None:
        wake(using=using)  # out of budget, maybe with work left: hand over to a fresh task
    return stats
