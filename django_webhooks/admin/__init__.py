"""The admin's Settings section: API keys, webhooks, the delivery log and the overview."""

from .api_keys import ApiKeyAdmin
from .delivery_log import DeliveryAttemptAdmin
from .overview import OverviewAdmin
from .webhooks import WebhookAdmin

__all__ = ["ApiKeyAdmin", "DeliveryAttemptAdmin", "OverviewAdmin", "WebhookAdmin"]
