"""Who sends what: due attempts are claimed with a lease (lost ones: :mod:`.leases`).

A claim takes due attempts with ``SELECT … FOR UPDATE SKIP LOCKED`` and marks them sending
with a lease of ``TIMEOUT`` + a margin, so two workers never send the same attempt; it takes
no more for a webhook than its learned limit has room for (:mod:`django_webhooks.pacing`),
and no more for one API key than its share of the run. Threads are what is counted: a fast
receiver's attempts go several to a thread (:func:`.sending.in_turn`), so one claim takes a
turn's worth of them for each free thread. Four statements in one transaction:
the due rows, their webhooks' pacing (locked) with the webhooks and keys, the requests in
flight to them, and one ``UPDATE … RETURNING`` that marks them and reads them back (where the
database has it). When the window of due rows it looked at was filled by webhooks without
room (a dead receiver's backlog), a second transaction looks past them.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from cachetools import LRUCache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Count, F
from django.utils import timezone

from ..models import DeliveryAttempt, Event, Webhook
from ..pacing import Pacing
from ..rows import Compiled, update_returning
from ..timing import lease_duration
from .leases import claimant
from .ordering import claimable
from .sending import in_turn

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

    ``held_by_key``: sending threads per API key in this run (a thread may send a fast
    receiver several attempts in turn); no key may hold more than :data:`KEY_SHARE` of the
    run's threads, so one key's slow receivers cannot take them all.
    ``known``: the pacing each webhook had when this run last claimed for it.
    ``skip``: webhooks not worth looking at again until the monotonic time given (paused,
    or at their limit when last seen).
    ``turns``: how many attempts to a thread the last claim counted for each of its
    webhooks (the run sends them so: never more threads than the claim counted).
    """

    threads: int
    held_by_key: Counter[int] = field(default_factory=Counter)
    known: dict[int, Pacing] = field(default_factory=dict)
    skip: dict[int, float] = field(default_factory=dict)
    turns: dict[int, int] = field(default_factory=dict)

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
    """Atomically take due attempts for up to ``free`` threads, as their webhooks have room.

    Each webhook's room is its learned limit (:mod:`django_webhooks.pacing`) less its
    requests in flight on every worker; its pacing row stays locked until the claim commits,
    so two workers never both fill the same room. A thread sends one attempt, or a turn of a
    fast receiver's (:func:`.sending.in_turn`, by the pacing the claim read). Also says
    whether more is due than this run took (another worker could help).
    """
    now = now or timezone.now()
    share = share or RunShare(threads=free)
    share.turns = {}
    picked_for: Counter[int] = Counter()
    attempts, threads, more, crowded = _claim_once(free, share, using, now, Counter(), picked_for)
    if crowded:
        # The window was filled by webhooks with no room (a dead receiver's backlog): they
        # are in share.skip now, so a second look sees past them. A webhook of both keeps
        # the turn the first counted, and its attempts join the first's last turn.
        left = free - sum(threads.values())
        beyond, _, more, _ = _claim_once(left, share, using, now, threads, picked_for)
        attempts += beyond
    return attempts, more


def _claim_once(
    free: int,
    share: RunShare,
    using: str,
    now: datetime,
    held: Counter[int | None],
    picked_for: Counter[int],
) -> tuple[list[DeliveryAttempt], Counter[int | None], bool, bool]:
    """One claim transaction: the attempts, the threads they take by API key (None: no
    webhook), and whether more was due; also whether its window was crowded: full, and not
    all of ``free`` taken because webhooks in it had no room. ``held`` and ``picked_for``:
    threads by key and attempts by webhook that an earlier transaction of the same claim
    took."""
    window = min(CLAIM_WINDOW, max(4 * free, 16))
    with transaction.atomic(using=using):
        skipped = share.skipped()
        candidates = _due_rows(using, window, len(skipped)).rows(using, now=now, skipped=skipped)
        paced = _paced(
            {webhook for _, webhook in candidates if webhook is not None}, using, share.known
        )
        room: dict[int, int] = {}
        turn = share.turns
        for webhook_id, (pacing, in_flight, _) in paced.items():
            share.known[webhook_id] = pacing
            room[webhook_id] = 0 if pacing.is_paused(now) else pacing.slots - in_flight
            turn.setdefault(webhook_id, in_turn(pacing.latency_floor_ms))
        picked: list[int] = []
        threads: Counter[int | None] = Counter()
        more = passed_over = False
        held_by_key = share.held_by_key + held
        for attempt_id, webhook_id in candidates:
            if webhook_id is not None and room.get(webhook_id, 0) <= 0:
                passed_over = True
                continue  # no other worker may send it either (or it was deleted just now)
            key_id = None if webhook_id is None else paced[webhook_id][2]
            # Joins the turn of a thread this claim already takes for the webhook, or
            # needs a thread of its own.
            joins = webhook_id is not None and picked_for[webhook_id] % turn[webhook_id] > 0
            if not joins and (
                sum(threads.values()) >= free
                or (key_id is not None and held_by_key[key_id] >= share.key_cap)
            ):
                more = True  # this run is full (for that key); another could take it
                continue
            if webhook_id is not None:
                room[webhook_id] -= 1
                picked_for[webhook_id] += 1
            if not joins:
                threads[key_id] += 1
                if key_id is not None:
                    held_by_key[key_id] += 1
            picked.append(attempt_id)
        _skip_full(share, paced, room, now)
        crowded = passed_over and len(candidates) == window and sum(threads.values()) < free
        if not picked:
            return [], threads, more, crowded
        attempts = _mark_sending(picked, paced, now, using)
    _attach_events(attempts, using)
    return attempts, threads, more, crowded


def give_back(attempts: list[DeliveryAttempt], *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Put claimed attempts that were not sent back to be claimed again, their claim not
    counted (it is no loss: :data:`timing.MAX_CLAIMS`)."""
    return (
        DeliveryAttempt.objects.using(using)
        .filter(pk__in=[attempt.pk for attempt in attempts], status=Status.SENDING)
        .filter(claimed_by=claimant())
        .update(
            status=Status.SCHEDULED,
            started_at=None,
            lease_expires_at=None,
            claimed_by="",
            claims=F("claims") - 1,
        )
    )


def _paced(
    webhook_ids: set[int], using: str, known: dict[int, Pacing]
) -> dict[int, tuple[Pacing, int, int]]:
    """Per webhook: its pacing (locked; ``.webhook`` with its key loaded), its requests in
    flight everywhere, its key's id."""
    if not webhook_ids:
        return {}
    unseen = webhook_ids - known.keys()
    if unseen:
        # A webhook this run has not claimed for may have no row yet (its first claim, or
        # after a reset): made before any is locked, so that all are locked in one statement
        # in id order, as every other transaction locks them (any other order can deadlock).
        existing = Webhook.objects.using(using).filter(pk__in=unseen).values_list("pk", flat=True)
        Pacing.objects.using(using).bulk_create(
            [Pacing(webhook_id=webhook_id) for webhook_id in sorted(existing)],
            ignore_conflicts=True,
        )
    return _locked_pacing(webhook_ids, using)


def _locked_pacing(webhook_ids: set[int], using: str) -> dict[int, tuple[Pacing, int, int]]:
    rows = list(
        Pacing.objects.using(using)
        .filter(webhook_id__in=webhook_ids)
        .select_related("webhook__api_key")
        .only(*_PACING_FIELDS, *(f"webhook__{name}" for name in _WEBHOOK_FIELDS))
        .select_for_update(of=("self",))
        .order_by("webhook_id")
    )
    # Counted in a statement of its own, after the locks are held: a statement that waited for
    # a lock still reads what was committed before it began (READ COMMITTED), so a count taken
    # with the lock would miss what the claim that held it just marked sending.
    counted = [row.webhook_id for row in rows]
    in_flight = dict(_in_flight(using, len(counted)).rows(using, webhooks=counted)) if rows else {}
    return {
        row.webhook_id: (row, in_flight.get(row.webhook_id, 0), row.webhook.api_key_id)
        for row in rows
    }


#: What the claim's statements are compiled with (rows.Compiled): no attempt is due in
#: 1999, no webhook has a negative id.
_SOME_INSTANT = datetime(1999, 12, 31, 23, 59, 58, 987654, tzinfo=UTC)


def _sentinel_ids(count: int) -> list[int]:
    return [-(n + 1) for n in range(count)]


@lru_cache(maxsize=256)
def _due_rows(using: str, window: int, skipped: int) -> Compiled:
    """Due attempts' ids and webhooks, the first ``window`` by due time, locked, leaving out
    ``skipped`` webhooks; compiled once per shape."""
    return Compiled(
        DeliveryAttempt.objects.using(using)
        .filter(status=Status.SCHEDULED, scheduled_for__lte=_SOME_INSTANT)
        .filter(claimable())
        .exclude(webhook_id__in=_sentinel_ids(skipped))
        .order_by("scheduled_for")
        .select_for_update(skip_locked=True)
        .values_list("id", "webhook_id")[:window],
        using,
        now=_SOME_INSTANT,
        skipped=_sentinel_ids(skipped),
    )


@lru_cache(maxsize=256)
def _in_flight(using: str, webhooks: int) -> Compiled:
    """Attempts being sent, counted by webhook, for ``webhooks`` webhooks."""
    return Compiled(
        DeliveryAttempt.objects.using(using)
        .filter(webhook_id__in=_sentinel_ids(webhooks), status=Status.SENDING)
        .values("webhook_id")
        .annotate(count=Count("id"))
        .values_list("webhook_id", "count")
        .order_by(),
        using,
        webhooks=_sentinel_ids(webhooks),
    )


def _mark_sending(
    picked: list[int],
    paced: dict[int, tuple[Pacing, int, int]],
    now: datetime,
    using: str,
) -> list[DeliveryAttempt]:
    """Mark ``picked`` sending under a fresh lease; the attempts, with their webhooks."""
    changes = {
        "status": Status.SENDING,
        "started_at": now,
        "lease_expires_at": now + lease_duration(),
        "claimed_by": claimant(),
    }
    attempts = update_returning(
        DeliveryAttempt, picked, changes, _ATTEMPT_FIELDS, using, increment="claims"
    )
    if attempts is None:  # no UPDATE … RETURNING here: update, then read
        DeliveryAttempt.objects.using(using).filter(pk__in=picked).update(
            **changes, claims=F("claims") + 1
        )
        attempts = list(
            DeliveryAttempt.objects.using(using).filter(pk__in=picked).only(*_ATTEMPT_FIELDS)
        )
    for attempt in attempts:
        attempt.webhook = (
            None if attempt.webhook_id is None else paced[attempt.webhook_id][0].webhook
        )
    attempts.sort(key=lambda attempt: (attempt.scheduled_for, attempt.pk))
    return attempts


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
_ATTEMPT_FIELDS = (
    "webhook",
    "event",
    "url",
    "event_type",
    "number",
    "trigger",
    "scheduled_for",
    "object_override",
    "object_key",
    "sequence",
)
_WEBHOOK_FIELDS = (
    "url",
    "format",
    "is_active",
    "headers_sealed",
    "api_key__revoked",
    "api_key__expiry_date",
    "api_key__signing_secret",
    "api_key__previous_signing_secret",
    "api_key__previous_signing_secret_expires_at",
)
_PACING_FIELDS = (
    "limit",
    "threshold",
    "refused_at_limit",
    "decreased_at",
    "latency_floor_ms",
    "paused_until",
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
