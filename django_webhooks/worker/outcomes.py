"""What an answer means for the attempt and its webhook, written down in one transaction.

Each answer goes through the store's policy (:mod:`django_webhooks.policy`); the outcome is
written, a failed attempt's successor is scheduled on the store's timetable, and a webhook
the policy switches off is deactivated or deleted, with the signals sent after the commit.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from .. import policy, signals
from ..custom_headers import REDACTED
from ..models import DeliveryAttempt, Webhook
from ..observability import hooks
from ..pacing import Pacing
from ..policy import Verdict
from ..rows import update_rows
from ..transport import Result
from .pace import learn_pace
from .sending import Sent

logger = logging.getLogger("django_webhooks")

RESPONSE_EXCERPT_CHARS = 4000

Status = DeliveryAttempt.Status

#: What next_attempt reads.
RETRY_FIELDS = (
    "webhook_id",
    "event_id",
    "url",
    "event_type",
    "object_override",
    "number",
    "trigger",
    "object_key",
    "sequence",
)

_OUTCOME_FIELDS = [
    "status",
    "url",
    "response_status",
    "response_excerpt",
    "answered_privately",
    "duration_ms",
    "error",
    "finished_at",
    "lease_expires_at",
    "request_headers",
]


def record_outcomes(
    sent: list[Sent], *, using: str = DEFAULT_DB_ALIAS, known: dict[int, Pacing] | None = None
) -> Counter[Verdict]:
    """Write outcomes, apply the policy's verdicts, schedule retries, learn the receivers'
    pace: one transaction. ``known``: the pacing the run last read (it spares a locked read
    when the answers change nothing)."""
    verdicts: Counter[Verdict] = Counter()
    if not sent:
        return verdicts
    attempts, retries, judged = [], [], []
    switched_off: dict[int, tuple[Verdict, DeliveryAttempt, str]] = {}
    for item in sent:
        attempt, result = item.prepared.attempt, item.result
        verdict = policy.judge(
            policy.Answer(
                status=result.status,
                body=result.body,
                complete=result.complete,
                sent=item.prepared.body,
            )
        )
        verdicts[verdict] += 1
        attempt.status = Status.SUCCEEDED if verdict is Verdict.SUCCEEDED else Status.FAILED
        attempt.url = item.prepared.url
        attempt.response_status = result.status
        attempt.response_excerpt = result.body.decode("utf-8", "replace")[:RESPONSE_EXCERPT_CHARS]
        attempt.answered_privately = result.from_private_address
        attempt.duration_ms = result.duration_ms
        attempt.finished_at = item.finished_at
        attempt.lease_expires_at = None
        attempt.request_headers = _redacted(item.prepared.headers, item.prepared.secret_names)
        attempt.error = _error_text(verdict, result)
        attempts.append(attempt)
        judged.append((attempt, verdict))
        if verdict in (Verdict.DEACTIVATE, Verdict.UNSUBSCRIBE) and attempt.webhook_id:
            switched_off[attempt.webhook_id] = (verdict, attempt, attempt.error)
        elif verdict is Verdict.FAILED:
            retry = next_attempt(attempt, item.finished_at)
            if retry is not None:
                retries.append(retry)
    with transaction.atomic(using=using):
        update_rows(DeliveryAttempt, attempts, _OUTCOME_FIELDS, using)
        insert_retries(retries, using, switched_off=switched_off.keys())
        for webhook_id, (verdict, attempt, reason) in switched_off.items():
            _switch_off(webhook_id, verdict, attempt, reason, using)
        # Last: a claim holds its attempt rows while it waits for pacing rows.
        learn_pace(sent, judged, using, known if known is not None else {}, switched_off.keys())
        hooks.outcomes_written(judged, using)
    return verdicts


def next_attempt(attempt: DeliveryAttempt, ended_at: datetime) -> DeliveryAttempt | None:
    """The attempt that follows a failed one on the schedule (unsaved); None: no more.

    A redelivery someone asked for is one try: they see its outcome and decide. The
    attempt needs only :data:`RETRY_FIELDS` loaded.
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
        object_key=attempt.object_key,  # an ordered webhook's retry keeps its place
        sequence=attempt.sequence,
    )


def insert_retries(
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


def _redacted(headers: dict[str, str], secret_names: tuple[str, ...] = ()) -> dict[str, str]:
    """What the log keeps: the signature cut short, custom header values not at all."""
    shown = {name: REDACTED if name in secret_names else value for name, value in headers.items()}
    if "webhook-signature" in shown:
        shown["webhook-signature"] = " ".join(
            signature[:10] + "…" for signature in shown["webhook-signature"].split()
        )
    return shown


def cancel(attempts: list[DeliveryAttempt], reason: str, *, using: str) -> None:
    DeliveryAttempt.objects.using(using).filter(pk__in=[a.pk for a in attempts]).update(
        status=Status.CANCELLED, finished_at=timezone.now(), lease_expires_at=None, error=reason
    )
