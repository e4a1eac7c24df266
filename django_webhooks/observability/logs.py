"""One log record per attempt outcome, with its facts as ``extra`` fields.

Logger ``django_webhooks.deliveries``: INFO for a delivery, WARNING for anything else. A JSON
formatter (python-json-logger, structlog's stdlib bridge…) gets each fact as a field:
``event_id``, ``event_type``, ``webhook_id``, ``attempt_id``, ``attempt_number``, ``status``,
``verdict``, ``response_status``, ``duration_ms``, ``url_host``. Only the destination's host is
logged (a URL's path or query may carry the receiver's token), never a header, a signature,
a secret, the body sent or the answer's text.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("django_webhooks.deliveries")


def outcome(attempt: Any, verdict: str) -> None:
    level = logging.INFO if verdict == "succeeded" else logging.WARNING
    if not logger.isEnabledFor(level):
        return  # a store that keeps its deliveries' log quiet pays nothing per attempt
    fields = {
        "event_id": attempt.event_id,
        "event_type": attempt.event_type,
        "webhook_id": attempt.webhook_id,
        "attempt_id": attempt.pk,
        "attempt_number": attempt.number,
        "status": attempt.status,
        "verdict": verdict,
        "response_status": attempt.response_status,
        "duration_ms": attempt.duration_ms,
        "url_host": urlsplit(attempt.url).hostname or "",
    }
    logger.log(
        level,
        "Attempt %s of event %s to webhook %s (%s): %s, HTTP %s, %s ms",
        attempt.number,
        attempt.event_id,
        attempt.webhook_id,
        fields["url_host"],
        verdict,
        attempt.response_status if attempt.response_status is not None else "-",
        attempt.duration_ms,
        extra=fields,
    )
