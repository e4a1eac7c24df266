"""One attempt's request: its body, its signed headers, and the POST itself.

A receiver that answers within milliseconds gets a webhook's claimed attempts one after the
other from one thread (:func:`in_turn`), on one kept-alive connection, as a plain loop would
send them: a hundred threads taking a request each spend more on waking each other and on
the interpreter's lock than on the requests (the P2 benchmark, docs/performance.md). A slow
receiver gets a thread per request, so that hundreds can be in flight.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from .. import payloads, signing
from ..conf import webhook_settings
from ..models import DeliveryAttempt, Webhook
from ..observability import hooks
from ..process_local import per_process
from ..transport import Result, get_transport

#: One thread's run of a webhook's attempts is planned to take about this long at the
#: receiver's usual speed (its learned latency floor), and holds at most IN_TURN_MOST.
IN_TURN_PLANNED_SECONDS = 0.1
IN_TURN_MOST = 32
#: No request of a run is started later than this after its first: with TIMEOUT, the last
#: one ends well inside the lease (TIMEOUT + LEASE_MARGIN_SECONDS).
IN_TURN_BUDGET_SECONDS = 1.0


@dataclass
class Prepared:
    attempt: DeliveryAttempt
    url: str
    body: bytes
    headers: dict[str, str]
    #: The webhook's own headers among ``headers``: the delivery log shows them redacted.
    secret_names: tuple[str, ...] = field(default=())


@dataclass
class Sent:
    prepared: Prepared
    result: Result
    finished_at: datetime


def is_deliverable(webhook: Webhook | None) -> bool:
    return webhook is not None and webhook.is_active and webhook.api_key.is_usable


def prepare(
    attempt: DeliveryAttempt, now: datetime, bodies: dict[tuple[str, str] | int, bytes]
) -> Prepared:
    """The request for ``attempt`` (a deliverable one); ``bodies`` caches the rendered ones.

    Raises HeadersUnreadable when the webhook's custom headers cannot be decrypted.
    """
    webhook = attempt.webhook
    if webhook is None:
        raise ValueError(f"Attempt {attempt.pk} has no webhook to be sent to.")
    custom = webhook.custom_headers()
    event = attempt.event
    # Every webhook of one format gets the same bytes for an event: render them once.
    body_key = (event.pk, webhook.format) if attempt.object_override is None else attempt.pk
    body = bodies.get(body_key)
    if body is None:
        body = bodies[body_key] = payloads.render_event(
            event, webhook.format, attempt.object_override
        )
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
        **hooks.request_headers(attempt, webhook.url),
        **custom,
    }
    return Prepared(
        attempt=attempt, url=webhook.url, body=body, headers=headers, secret_names=tuple(custom)
    )


@per_process
def pool(workers: int) -> ThreadPoolExecutor:
    """The threads one worker process sends on."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="django-webhooks-send")


def send(prepared: Prepared) -> Sent:
    result = get_transport().post(
        prepared.url,
        prepared.body,
        prepared.headers,
        timeout=webhook_settings.TIMEOUT,
        allow_private=webhook_settings.ALLOW_PRIVATE_DESTINATIONS,
    )
    return Sent(prepared=prepared, result=result, finished_at=timezone.now())


def in_turn(latency_floor_ms: float | None) -> int:
    """How many of one webhook's attempts one thread sends one after the other (1: each
    its own thread): by how fast its receiver usually answers; 1 while that is not known."""
    if latency_floor_ms is None:
        return 1
    planned = IN_TURN_PLANNED_SECONDS * 1000 / max(latency_floor_ms, 1.0)
    return max(1, min(IN_TURN_MOST, int(planned)))


def send_in_turn(batch: list[Prepared]) -> tuple[list[Sent], list[Prepared]]:
    """Send ``batch`` one after the other; what was sent, and what was not.

    The run stops at the first answer that is not a success (the next would most likely fare
    no better, and each spends one of the store's attempts) and once IN_TURN_BUDGET_SECONDS
    have passed; what it did not send goes back to be claimed again, its attempt unspent.
    """
    started = time.monotonic()
    success = webhook_settings.SUCCESS_STATUS_CODES
    sent: list[Sent] = []
    for index, prepared in enumerate(batch):
        if sent and (
            sent[-1].result.status not in success
            or time.monotonic() - started > IN_TURN_BUDGET_SECONDS
        ):
            return sent, batch[index:]
        sent.append(send(prepared))
    return sent, []
