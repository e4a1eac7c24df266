"""The delivery engine: claim due attempts, send them side by side, record the outcomes.

One run (one django-q2 task) keeps up to ``CONCURRENCY`` requests in flight on a thread
pool, at most ``CONCURRENCY_PER_WEBHOOK`` of them to any one webhook, so a receiver that never
answers holds a few threads, not the worker. Attempts are claimed only when a thread is free
to send them at once, which is what lets a short lease (``TIMEOUT`` + a margin) detect a
worker that died mid-flight. Outcomes are written in batches, one transaction per batch.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import outbox, payloads, policy, signals, signing
from .conf import webhook_settings
from .models import DeliveryAttempt, Event, Webhook
from .policy import Verdict
from .rows import update_rows
from .transport import Result, get_transport

logger = logging.getLogger("django_webhooks")

#: How long a run keeps claiming new work before it hands over to a fresh task.
RUN_BUDGET_SECONDS = 20.0
#: A claimed attempt not finished within TIMEOUT + this is presumed lost with its worker.
LEASE_MARGIN_SECONDS = 10.0
#: An attempt whose worker was lost this many times is given up as failed (the next one of
#: the schedule still goes: a payload that kills workers costs at most this many per attempt).
MAX_CLAIMS = 3
#: At most how many due rows one claim looks at (and locks) to fill its free slots: a few
#: per slot, so a webhook at its cap does not hide the others. Saturated webhooks are
#: left out by the query itself.
CLAIM_WINDOW = 200
RESPONSE_EXCERPT_CHARS = 4000
#: How often a busy run looks for new due work even if nothing in flight has finished.
POLL_SECONDS = 0.25
#: How long a run waits for more answers after one came, to record them together.
LINGER_SECONDS = 0.003

Status = DeliveryAttempt.Status


@dataclass
class Prepared:
    attempt: DeliveryAttempt
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Sent:
    prepared: Prepared
    result: Result
    finished_at: datetime


@dataclass
class RunStats:
    claimed: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    verdicts: Counter = field(default_factory=Counter)


# --- claiming -------------------------------------------------------------------------------


def claim(
    limit: int,
    in_flight_per_webhook: Counter,
    *,
    using: str = DEFAULT_DB_ALIAS,
    now: datetime | None = None,
) -> tuple[list[DeliveryAttempt], bool]:
    """Atomically take up to ``limit`` due attempts; also says whether more are due."""
    now = now or timezone.now()
    cap = webhook_settings.CONCURRENCY_PER_WEBHOOK
    saturated = [webhook_id for webhook_id, count in in_flight_per_webhook.items() if count >= cap]
    with transaction.atomic(using=using):
        candidates = list(
            DeliveryAttempt.objects.using(using)
            .filter(status=Status.SCHEDULED, scheduled_for__lte=now)
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
    "url",
    "webhook__url",
    "webhook__format",
    "webhook__is_active",
    "webhook__api_key__revoked",
    "webhook__api_key__expiry_date",
    "webhook__api_key__signing_secret",
    "webhook__api_key__previous_signing_secret",
    "webhook__api_key__previous_signing_secret_expires_at",
)

_events: OrderedDict[tuple[str, str], Event] = OrderedDict()
EVENT_CACHE_SIZE = 2048


def _attach_events(attempts: list[DeliveryAttempt], using: str) -> None:
    """Give each attempt its event, reading each event once per process.

    An event's type and data never change once it is dispatched, and an event goes to every
    subscribed webhook and through every retry: re-reading (and re-parsing) it for each of
    those attempts was a large share of a claim.
    """
    missing = {attempt.event_id for attempt in attempts if (using, attempt.event_id) not in _events}
    if missing:
        for event in Event.objects.using(using).filter(pk__in=missing):
            _events[(using, event.pk)] = event
        while len(_events) > EVENT_CACHE_SIZE:
            _events.popitem(last=False)
    for attempt in attempts:
        attempt.event = _events[(using, attempt.event_id)]


def lease_duration() -> timedelta:
    return timedelta(seconds=webhook_settings.TIMEOUT + LEASE_MARGIN_SECONDS)


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
    # No ORDER BY (see _dead_local_claimants): the partial lease index finds the few rows.
    for attempt in expired.filter(claims__gte=MAX_CLAIMS).order_by().only(*_RETRY_FIELDS):
        given_up += _give_up(attempt, now, using)
    released = expired.update(
        status=Status.SCHEDULED, lease_expires_at=None, scheduled_for=now, claimed_by=""
    )
    if given_up or released:
        logger.warning("Recovered %d lost attempts, gave up on %d.", released, given_up)
    return released + given_up


#: What _next_attempt reads.
_RETRY_FIELDS = (
    "webhook_id",
    "event_id",
    "url",
    "event_type",
    "object_override",
    "number",
    "trigger",
)


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
        retry = _next_attempt(attempt, now) if failed else None
        if retry is not None:
            _insert_retries([retry], using)
    return failed


def _dead_local_claimants(sending) -> list[str]:
    prefix = f"{socket.gethostname()}:"
    # No ORDER BY: Meta.ordering (-created_at) makes SQLite walk all of attempt_created_idx
    # instead of the partial index over the few rows being sent.
    claimants = set(
        sending.filter(claimed_by__startswith=prefix)
        .order_by()
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


# --- preparing ------------------------------------------------------------------------------


def is_deliverable(webhook: Webhook | None) -> bool:
    return webhook is not None and webhook.is_active and webhook.api_key.is_usable


def render_body(event: Event, fmt: str, object_override: Any = None) -> bytes:
    data = event.data
    if object_override is not None:
        data = {**data, "object": object_override}
    document = payloads.envelope(event.pk, event.type, event.created_at, data)
    return payloads.render(document, fmt)


def prepare(attempt: DeliveryAttempt, now: datetime, bodies: dict) -> Prepared:
    webhook = attempt.webhook
    event = attempt.event
    # Every webhook of one format gets the same bytes for an event: render them once.
    body_key = (event.pk, webhook.format) if attempt.object_override is None else attempt.pk
    body = bodies.get(body_key)
    if body is None:
        body = bodies[body_key] = render_body(event, webhook.format, attempt.object_override)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": payloads.CONTENT_TYPES[webhook.format],
        "webhook-id": event.pk,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            webhook.api_key.active_signing_secrets(now), event.pk, timestamp, body
        ),
        "X-Webhook-Event": event.type,
        "X-Webhook-Attempt": str(attempt.number),
    }
    return Prepared(attempt=attempt, url=webhook.url, body=body, headers=headers)


# --- sending --------------------------------------------------------------------------------

_pools: dict[int, ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    pid = os.getpid()
    with _pool_lock:
        pool = _pools.get(pid)
        if pool is None:
            _pools.clear()
            pool = _pools[pid] = ThreadPoolExecutor(
                max_workers=max(webhook_settings.CONCURRENCY, 1),
                thread_name_prefix="django-webhooks-send",
            )
    return pool


def send(prepared: Prepared) -> Sent:
    result = get_transport().post(
        prepared.url,
        prepared.body,
        prepared.headers,
        timeout=webhook_settings.TIMEOUT,
        allow_private=webhook_settings.ALLOW_PRIVATE_DESTINATIONS,
    )
    return Sent(prepared=prepared, result=result, finished_at=timezone.now())


# --- recording ------------------------------------------------------------------------------

_OUTCOME_FIELDS = [
    "status",
    "url",
    "response_status",
    "response_excerpt",
    "duration_ms",
    "error",
    "finished_at",
    "lease_expires_at",
    "request_headers",
]


def record(sent: list[Sent], *, using: str = DEFAULT_DB_ALIAS) -> Counter:
    """Write outcomes, apply the policy's verdicts, schedule retries: one transaction."""
    verdicts: Counter = Counter()
    if not sent:
        return verdicts
    attempts, retries = [], []
    switched_off: dict[int, tuple[Verdict, DeliveryAttempt, str]] = {}
    for item in sent:
        attempt, result = item.prepared.attempt, item.result
        verdict = policy.judge(
            policy.Answer(status=result.status, body=result.body, complete=result.complete)
        )
        verdicts[verdict] += 1
        attempt.status = Status.SUCCEEDED if verdict is Verdict.SUCCEEDED else Status.FAILED
        attempt.url = item.prepared.url
        attempt.response_status = result.status
        attempt.response_excerpt = result.body.decode("utf-8", "replace")[:RESPONSE_EXCERPT_CHARS]
        attempt.duration_ms = result.duration_ms
        attempt.finished_at = item.finished_at
        attempt.lease_expires_at = None
        attempt.request_headers = _redacted(item.prepared.headers)
        attempt.error = _error_text(verdict, result)
        attempts.append(attempt)
        if verdict in (Verdict.DEACTIVATE, Verdict.UNSUBSCRIBE) and attempt.webhook_id:
            switched_off[attempt.webhook_id] = (verdict, attempt, attempt.error)
        elif verdict is Verdict.FAILED:
            retry = _next_attempt(attempt, item.finished_at)
            if retry is not None:
                retries.append(retry)
    with transaction.atomic(using=using):
        update_rows(DeliveryAttempt, attempts, _OUTCOME_FIELDS, using)
        _insert_retries(retries, using, switched_off=switched_off.keys())
        for webhook_id, (verdict, attempt, reason) in switched_off.items():
            _switch_off(webhook_id, verdict, attempt, reason, using)
    return verdicts


def _next_attempt(attempt: DeliveryAttempt, ended_at: datetime) -> DeliveryAttempt | None:
    """The attempt that follows a failed one on the schedule (unsaved); None: no more.

    A redelivery someone asked for is one try: they see its outcome and decide.
    """
    if attempt.trigger == DeliveryAttempt.Trigger.MANUAL or not attempt.webhook_id:
        return None
    due = policy.next_attempt_due(attempt.number, ended_at)
    if due is None:
        return None
    return DeliveryAttempt(
        webhook_id=attempt.webhook_id,
        event_id=attempt.event_id,
        url=attempt.url,
        event_type=attempt.event_type,
        number=attempt.number + 1,
        trigger=DeliveryAttempt.Trigger.RETRY,
        scheduled_for=due,
        object_override=attempt.object_override,
    )


def _insert_retries(
    retries: list[DeliveryAttempt], using: str, switched_off: Iterable[int] = ()
) -> None:
    """INSERT the retries whose webhook is still active (in the caller's transaction)."""
    if not retries:
        return
    # Lock the webhooks so none is deleted between this check and the insert.
    still_active = set(
        Webhook.objects.using(using)
        .select_for_update()
        .filter(pk__in={retry.webhook_id for retry in retries}, is_active=True)
        .exclude(pk__in=list(switched_off))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    DeliveryAttempt.objects.using(using).bulk_create(
        [retry for retry in retries if retry.webhook_id in still_active]
    )


def _switch_off(
    webhook_id: int, verdict: Verdict, attempt: DeliveryAttempt, reason: str, using: str
) -> None:
    webhook = Webhook.objects.using(using).filter(pk=webhook_id).first()
    if webhook is None:
        return
    if webhook.url != attempt.url:
        # Its owner pointed it elsewhere while this went to the old address: that address's
        # answer says nothing about the new one.
        logger.info("Webhook %s moved to a new URL; the old one's answer is ignored.", webhook_id)
        return
    webhook.deactivate(reason)
    if verdict is Verdict.UNSUBSCRIBE:
        webhook_pk = webhook.pk
        webhook.delete()
        webhook.pk = webhook_pk
        transaction.on_commit(
            lambda: signals.webhook_deleted.send(
                sender=Webhook, webhook=webhook, attempt=attempt, reason=reason
            ),
            using=using,
            robust=True,
        )
    else:
        transaction.on_commit(
            lambda: signals.webhook_deactivated.send(
                sender=Webhook, webhook=webhook, attempt=attempt, reason=reason
            ),
            using=using,
            robust=True,
        )


def _error_text(verdict: Verdict, result: Result) -> str:
    if verdict is Verdict.UNSUBSCRIBE:
        return "The receiver asked to unsubscribe; the webhook was deleted."
    if verdict is Verdict.DEACTIVATE:
        return f"HTTP {result.status}: the webhook was deactivated."
    if verdict is Verdict.SUCCEEDED:
        return ""
    if result.error:
        return result.error
    return f"HTTP {result.status} is not a success."


def _redacted(headers: dict[str, str]) -> dict[str, str]:
    shown = dict(headers)
    if "webhook-signature" in shown:
        shown["webhook-signature"] = " ".join(
            signature[:10] + "…" for signature in shown["webhook-signature"].split()
        )
    return shown


def cancel(attempts: list[DeliveryAttempt], reason: str, *, using: str) -> None:
    DeliveryAttempt.objects.using(using).filter(pk__in=[a.pk for a in attempts]).update(
        status=Status.CANCELLED, finished_at=timezone.now(), lease_expires_at=None, error=reason
    )


# --- one run --------------------------------------------------------------------------------


def run(
    *, using: str = DEFAULT_DB_ALIAS, budget: float = RUN_BUDGET_SECONDS, wake=None
) -> RunStats:
    """Deliver what is due until nothing is, or the budget is spent (then hand over)."""
    stats = RunStats()
    pool = _pool()
    concurrency = max(webhook_settings.CONCURRENCY, 1)
    in_flight: dict[Future, Prepared] = {}
    per_webhook: Counter = Counter()
    bodies: dict = {}
    stop_claiming_at = time.monotonic() + budget
    more_due, asked_for_help = False, False
    dispatch_at = 0.0
    while True:
        claimed_any = False
        free = concurrency - len(in_flight)
        if free > 0 and time.monotonic() < stop_claiming_at:
            # Looking for new events costs a transaction: again at once while it finds some,
            # else every POLL_SECONDS (events committed meanwhile also wake another task).
            if time.monotonic() >= dispatch_at:
                dispatched = outbox.dispatch_pending(using)
                dispatch_at = time.monotonic() + (0 if dispatched else POLL_SECONDS)
            attempts, more_due = claim(free, per_webhook, using=using)
            claimed_any = bool(attempts)
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
            unrenderable = []
            for attempt in attempts:
                if attempt in undeliverable:
                    continue
                try:
                    prepared = prepare(attempt, now, bodies)
                except Exception:
                    # Deterministic: retrying would fail the same way. One bad event must not
                    # stop the run (and strand the others already in flight).
                    logger.exception("Cannot render event %s; not sent.", attempt.event_id)
                    unrenderable.append(attempt)
                    continue
                in_flight[pool.submit(send, prepared)] = prepared
                per_webhook[attempt.webhook_id] += 1
            if unrenderable:
                cancel(
                    unrenderable, "The payload could not be rendered (see the log).", using=using
                )
                stats.cancelled += len(unrenderable)
            if more_due and not asked_for_help and wake is not None:
                wake(using=using)  # more is due than this run can take: let another worker join
                asked_for_help = True
        if not in_flight:
            if claimed_any:
                continue
            break
        done, pending = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        if done and pending:
            # Answers that come a moment later join this batch: one transaction records them.
            done |= wait(pending, timeout=LINGER_SECONDS, return_when=ALL_COMPLETED)[0]
        finished = []
        for future in done:
            prepared = in_flight.pop(future)
            per_webhook[prepared.attempt.webhook_id] -= 1
            finished.append(future.result())
        if finished:
            stats.sent += len(finished)
            verdicts = record(finished, using=using)
            stats.verdicts.update(verdicts)
            stats.succeeded += verdicts[Verdict.SUCCEEDED]
            stats.failed += len(finished) - verdicts[Verdict.SUCCEEDED]
        if len(bodies) > 1000:
            bodies.clear()
    if time.monotonic() >= stop_claiming_at and wake is not None:
        wake(using=using)  # out of budget, maybe with work left: hand over to a fresh task
    return stats
