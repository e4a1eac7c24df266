"""What "Send test event" sends: the types to choose from, and the sending."""

from __future__ import annotations

from .. import events, redelivery
from ..models import DeliveryAttempt, Webhook


def test_event_choices() -> list[tuple[str, str]]:
    """``(type, label)`` to choose from (the page shows a choice when there is one)."""
    return [(events.WEBHOOK_TEST, events.label_for(events.WEBHOOK_TEST))]


def send(webhook: Webhook, event_type: str) -> DeliveryAttempt:
    """Raises ValueError for a type that cannot be sent, DeliveryRefused when inactive."""
    if event_type not in dict(test_event_choices()):
        raise ValueError(event_type)
    return redelivery.send_test(webhook)
