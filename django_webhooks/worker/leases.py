"""Lost claims: a worker that died mid-flight leaves leases that run out (or, on its own
host, a process that is gone); :func:`release_lost_claims` puts those attempts back, or gives
one up after ``MAX_CLAIMS`` losses and schedules the next of the schedule.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import DeliveryAttempt
from ..timing import MAX_CLAIMS
from .outcomes import RETRY_FIELDS, insert_retries, next_attempt

logger = logging.getLogger("django_webhooks")

Status = DeliveryAttempt.Status


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
