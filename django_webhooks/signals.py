"""Signals the store's own code can listen to.

Both are sent after the transaction that switched the webhook off has committed, with
``sender=Webhook`` and the keyword arguments ``webhook``, ``attempt`` (the delivery attempt
whose answer decided it) and ``reason``.
"""

from django.dispatch import Signal

webhook_deactivated = Signal()
"""A receiver answered with one of DEACTIVATE_STATUS_CODES; ``webhook.is_active`` is now False."""

webhook_deleted = Signal()
"""A receiver's answer held UNSUBSCRIBE_PHRASE; the webhook row is gone (``webhook.pk`` kept)."""
