"""One attempt's request: its body, its signed headers, and the POST itself."""

from __future__ import annotations

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
