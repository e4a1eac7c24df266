"""The admin's Settings section: API keys, webhooks and the delivery log."""

from .api_keys import ApiKeyAdmin
from .delivery_log import DeliveryAttemptAdmin
from .webhooks import WebhookAdmin

__all__ = ["ApiKeyAdmin", "DeliveryAttemptAdmin", "WebhookAdmin"]
