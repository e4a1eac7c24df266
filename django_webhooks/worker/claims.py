"""Who sends what: due attempts are claimed with a lease, and lost leases are recovered.

A claim takes due attempts with ``SELECT … FOR UPDATE SKIP LOCKED`` and marks them sending
with a lease of ``TIMEOUT`` + a margin, so two workers never send the same attempt. A worker
that dies mid-flight leaves leases that run out (or, on its own host, a process that is
gone): :func:`release_lost_claims` puts those attempts back, or gives one up after
``MAX_CLAIMS`` losses and schedules the next of the schedule.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from datetime import datetime

from cachetools import LRUCache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ..conf import webhook_settings
from ..models import DeliveryAttempt, Event
from ..timing import MAX_CLAIMS, lease_duration
from .ordering import claimable
from .outcomes import RETRY_FIELDS, insert_retries, next_attempt

logger = logging.getLogger("django_webhooks")

#: At most how many due rows one claim looks at (and locks) to fill its free slots: a few
#: per slot, so a webhook at its cap does not hide the others. Saturated webhooks are
#: left out by the query itself.
CLAIM_WINDOW = 200
EVENT_CACHE_SIZE = 2048

Status = DeliveryAttempt.Status


def claim(
    limit: int,
    in_flight_per_webhook: Counter[int | None],
    *,
    using: str = DEFAULT_DB_ALIAS,
    now: datetime | None = None,
) -> tuple[list[DeliveryAttempt], bool]:
    """Atomically take up to ``limit`` due attempts; also says whether more are due."""
    now = now or timezone.now()
    cap = webhook_settings.CONCURRENCY_PER_WEBHOOK
    saturated = [
        webhook_id
        for webhook_id, count in in_flight_per_webhook.items()
        if count >= cap and webhook_id is not None
    ]
    with transaction.atomic(using=using):
        candidates = list(
            DeliveryAttempt.objects.using(using)
            .filter(status=Status.SCHEDULED, scheduled_for__lte=now)
            .filter(claimable())
            .exclude(webhook_id__in=saturated)
            .order_by("scheduled_for")
            .select_for_update(skip_locked=True)
            .values_list("id", "webhook_id")[: min(CLAIM_WINDOW, max(4 * limit, 16))]
        )
        picked: list[int] = []
        taken = Counter(in_flight_per_webhook)
        for attempt_id, webhook_id in candidates:
            if len(picked) >= limit:
                break
            if webhook_id is not None and taken[webhook_id] >= cap:
                continue
            taken[webhook_id] += 1
            picked.append(attempt_id)
        if picked:
            DeliveryAttempt.objects.using(using).filter(pk__in=picked).update(
                status=Status.SENDING,
                started_at=now,
                lease_expires_at=now + lease_duration(),
                claims=F("claims") + 1,
                claimed_by=claimant(),
            )
    more = len(candidates) > len(picked)
    if not picked:
        return [], more
    attempts = list(
        DeliveryAttempt.objects.using(using)
        .filter(pk__in=picked)
        .select_related("webhook__api_key")
        .only(*_CLAIMED_FIELDS)
        .order_by("scheduled_for")
    )
    _attach_events(attempts, using)
    return attempts, more


#: What sending and recording an attempt read: a claim loads only these.
_CLAIMED_FIELDS = (
    "event_id",
    "event_type",
    "number",
    "object_override",
    "trigger",
    "scheduled_for",
    "object_key",
    "sequence",
    "url",
    "webhook__url",
    "webhook__format",
    "webhook__is_active",
    "webhook__headers_sealed",
    "webhook__api_key__revoked",
    "webhook__api_key__expiry_date",
    "webhook__api_key__signing_secret",
    "webhook__api_key__previous_signing_secret",
    "webhook__api_key__previous_signing_secret_expires_at",
)

#: Events by (database, id): an event never changes once dispatched, and goes to every
#: subscribed webhook and through every retry.
_events: LRUCache[tuple[str, str], Event] = LRUCache(maxsize=EVENT_CACHE_SIZE)


def _attach_events(attempts: list[DeliveryAttempt], using: str) -> None:
    """Give each attempt its event, reading each event once per process.

    An event's type and data never change once it is dispatched, and an event goes to every
    subscribed webhook and through every retry: re-reading (and re-parsing) it for each of
    those attempts was a large share of a claim.
    """
    found = {attempt.event_id: _events.get((using, attempt.event_id)) for attempt in attempts}
    missing = [event_id for event_id, event in found.items() if event is None]
    if missing:
        for event in Event.objects.using(using).filter(pk__in=missing):
            found[event.pk] = _events[(using, event.pk)] = event
    for attempt in attempts:
        known = found[attempt.event_id]
        assert known is not None  # read above if it was not cached
        attempt.event = known


def claimant() -> str:
    """Who claims: ``host:pid`` of this worker process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def release_lost_claims(*, using: str = DEFAULT_DB_ALIAS, now: datetime | None = None) -> int:
    """Put back attempts whose worker died mid-flight (or give up after MAX_CLAIMS).

    A claim is lost when its lease ran out, or at once when its worker was on this host and
    its process is gone (a cluster killed and restarted need not wait for the lease).
    """
    now = now or timezone.now()
    sending = DeliveryAttempt.objects.using(using).filter(status=Status.SENDING)
    lost = Q(lease_expires_at__lt=now)
    dead = _dead_local_claimants(sending)
    if dead:
        lost |= Q(claimed_by__in=dead)
    expired = sending.filter(lost)
    given_up = 0
    for attempt in expired.filter(claims__gte=MAX_CLAIMS).only(*RETRY_FIELDS):
        given_up += _give_up(attempt, now, using)
    released = expired.update(
        status=Status.SCHEDULED, lease_expires_at=None, scheduled_for=now, claimed_by=""
    )
    if given_up or released:
        logger.warning("Recovered %d lost attempts, gave up on %d.", released, given_up)
    return released + given_up


def _give_up(attempt: DeliveryAttempt, now: datetime, using: str) -> int:
    """Fail an attempt lost MAX_CLAIMS times and schedule the next, as for any failure."""
    with transaction.atomic(using=using):
        failed = (
            DeliveryAttempt.objects.using(using)
            .filter(pk=attempt.pk, status=Status.SENDING)  # another sweeper may be first
            .update(
                status=Status.FAILED,
                finished_at=now,
                lease_expires_at=None,
                error=f"The worker sending this attempt was lost {MAX_CLAIMS} times; giving up.",
            )
        )
        retry = next_attempt(attempt, now) if failed else None
        if retry is not None:
            insert_retries([retry], using)
    return failed


def _dead_local_claimants(sending: QuerySet[DeliveryAttempt]) -> list[str]:
    prefix = f"{socket.gethostname()}:"
    claimants = set(
        sending.filter(claimed_by__startswith=prefix)
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    return [name for name in claimants if not _process_alive(int(name.rsplit(":", 1)[1]))]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
