"""Who sends what: due attempts are claimed with a lease, and lost leases are recovered.

A claim takes due attempts with ``SELECT … FOR UPDATE SKIP LOCKED`` and marks them sending
with a lease of ``TIMEOUT`` + a margin, so two workers never send the same attempt; it takes
no more for a webhook than its learned limit has room for (:mod:`django_webhooks.pacing`),
and no more for one API key than its share of the run. A worker
that dies mid-flight leaves leases that run out (or, on its own host, a process that is
gone): :func:`release_lost_claims` puts those attempts back, or gives one up after
``MAX_CLAIMS`` losses and schedules the next of the schedule.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from cachetools import LRUCache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import DeliveryAttempt, Event
from ..pacing import Pacing
from ..timing import MAX_CLAIMS, lease_duration
from .outcomes import RETRY_FIELDS, insert_retries, next_attempt

logger = logging.getLogger("django_webhooks")

#: At most how many due rows one claim looks at (and locks) to fill its free slots: a few
#: per slot, so a webhook at its cap does not hide the others. Saturated webhooks are
#: left out by the query itself.
CLAIM_WINDOW = 200
EVENT_CACHE_SIZE = 2048
#: At most this share of one run's threads goes to one API key's webhooks.
KEY_SHARE = 0.5
#: How long a run leaves a webhook at its limit out of its claims (unless one of its own
#: requests to it ends first).
FULL_RECHECK_SECONDS = 0.1

Status = DeliveryAttempt.Status


@dataclass
class RunShare:
    """What one delivery run holds, so that its claims stay fair and skip what cannot go.

    ``held_by_key``: requests in flight per API key in this run; no key may hold more than
    :data:`KEY_SHARE` of the run's threads, so one key's slow receivers cannot take them all.
    ``known``: the pacing each webhook had when this run last claimed for it.
    ``skip``: webhooks not worth looking at again until the monotonic time given (paused,
    or at their limit when last seen).
    """

    threads: int
    held_by_key: Counter[int] = field(default_factory=Counter)
    known: dict[int, Pacing] = field(default_factory=dict)
    skip: dict[int, float] = field(default_factory=dict)

    @property
    def key_cap(self) -> int:
        return max(1, math.ceil(self.threads * KEY_SHARE))

    def skipped(self) -> list[int]:
        clock = time.monotonic()
        for webhook_id in [w for w, until in self.skip.items() if until <= clock]:
            del self.skip[webhook_id]
        return list(self.skip)

    def started(self, attempt: DeliveryAttempt) -> None:
        if attempt.webhook is not None:
            self.held_by_key[attempt.webhook.api_key_id] += 1

    def finished(self, attempt: DeliveryAttempt) -> None:
        """A request of this run ended: its webhook may have room again."""
        if attempt.webhook is not None:
            self.held_by_key[attempt.webhook.api_key_id] -= 1
            self.skip.pop(attempt.webhook.pk, None)


def claim(
    free: int,
    share: RunShare | None = None,
    *,
    using: str = DEFAULT_DB_ALIAS,
    now: datetime | None = None,
) -> tuple[list[DeliveryAttempt], bool]:
    """Atomically take up to ``free`` due attempts that their webhooks have room for.

    Each webhook's room is its learned limit (:mod:`django_webhooks.pacing`) less its
    requests in flight on every worker; its pacing row stays locked until the claim commits,
    so two workers never both fill the same room. Also says whether more is due than this
    run took (another worker could help).
    """
    now = now or timezone.now()
    share = share or RunShare(threads=free)
    with transaction.atomic(using=using):
        candidates = list(
            DeliveryAttempt.objects.using(using)
            .filter(status=Status.SCHEDULED, scheduled_for__lte=now)
            .exclude(webhook_id__in=share.skipped())
            .order_by("scheduled_for")
            .select_for_update(skip_locked=True)
            .values_list("id", "webhook_id")[: min(CLAIM_WINDOW, max(4 * free, 16))]
        )
        paced = _paced({w for _, w in candidates if w is not None}, using)
        room: dict[int, int] = {}
        for webhook_id, (pacing, in_flight, _) in paced.items():
            share.known[webhook_id] = pacing
            room[webhook_id] = 0 if pacing.is_paused(now) else pacing.slots - in_flight
        picked: list[int] = []
        more = False
        held_by_key = Counter(share.held_by_key)
        for attempt_id, webhook_id in candidates:
            key_id = None if webhook_id is None else paced[webhook_id][2]
            if webhook_id is not None and room[webhook_id] <= 0:
                continue  # no other worker may send it either
            if len(picked) >= free or (key_id is not None and held_by_key[key_id] >= share.key_cap):
                more = True  # this run is full (for that key); another could take it
                continue
            if webhook_id is not None and key_id is not None:
                room[webhook_id] -= 1
                held_by_key[key_id] += 1
            picked.append(attempt_id)
        _skip_full(share, paced, room, now)
        if picked:
            DeliveryAttempt.objects.using(using).filter(pk__in=picked).update(
                status=Status.SENDING,
                started_at=now,
                lease_expires_at=now + lease_duration(),
                claims=F("claims") + 1,
                claimed_by=claimant(),
            )
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


def _paced(webhook_ids: set[int], using: str) -> dict[int, tuple[Pacing, int, int]]:
    """Per webhook: its pacing (locked), its requests in flight everywhere, its key."""
    if not webhook_ids:
        return {}
    found = _locked_pacing(webhook_ids, using)
    missing = webhook_ids - found.keys()
    if missing:
        # First claim for these webhooks (or after a reset): they start at the initial limit.
        Pacing.objects.using(using).bulk_create(
            [Pacing(webhook_id=webhook_id) for webhook_id in sorted(missing)],
            ignore_conflicts=True,
        )
        found |= _locked_pacing(missing, using)
    return found


def _locked_pacing(webhook_ids: set[int], using: str) -> dict[int, tuple[Pacing, int, int]]:
    in_flight = (
        DeliveryAttempt.objects.using(using)
        .filter(webhook_id=OuterRef("webhook_id"), status=Status.SENDING)
        .order_by()
        .values("webhook_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    rows = (
        Pacing.objects.using(using)
        .filter(webhook_id__in=webhook_ids)
        .annotate(in_flight=Coalesce(Subquery(in_flight), 0), key_id=F("webhook__api_key_id"))
        .select_for_update(of=("self",))
        .order_by("webhook_id")
    )
    return {row.webhook_id: (row, row.in_flight, row.key_id) for row in rows}


def _skip_full(
    share: RunShare, paced: dict[int, tuple[Pacing, int, int]], room: dict[int, int], now: datetime
) -> None:
    """Webhooks paused or at their limit are left out of this run's next claims a while."""
    clock = time.monotonic()
    for webhook_id, left in room.items():
        pacing = paced[webhook_id][0]
        if pacing.is_paused(now):
            assert pacing.paused_until is not None
            wait = (pacing.paused_until - now).total_seconds()
            share.skip[webhook_id] = clock + min(wait, FULL_RECHECK_SECONDS * 4)
        elif left <= 0:
            # Room comes back when one of its requests ends, here (finished) or elsewhere.
            share.skip[webhook_id] = clock + FULL_RECHECK_SECONDS


#: What sending and recording an attempt read: a claim loads only these.
_CLAIMED_FIELDS = (
    "event_id",
    "event_type",
    "number",
    "object_override",
    "trigger",
    "scheduled_for",
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
