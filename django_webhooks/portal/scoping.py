"""Every row the portal reads or changes, found through the session's API key.

Another key's ids answer 404, exactly like ids that do not exist; no view of the portal
queries a webhook or an attempt any other way.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from ..models import DeliveryAttempt, Webhook
from .links import Grant


def webhooks_of(grant: Grant) -> QuerySet[Webhook]:
    return Webhook.objects.filter(api_key=grant.api_key).select_related("api_key")


def webhook_of(grant: Grant, pk: int) -> Webhook:
    webhook: Webhook = get_object_or_404(webhooks_of(grant), pk=pk)
    return webhook


def attempt_of(grant: Grant, pk: int) -> DeliveryAttempt:
    attempts = DeliveryAttempt.objects.filter(webhook__api_key=grant.api_key).select_related(
        "webhook__api_key", "event"
    )
    attempt: DeliveryAttempt = get_object_or_404(attempts, pk=pk)
    return attempt
