"""What every portal page is rendered with: the session's grant and a webhook's health."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .. import events
from ..display import hourly_chart
from ..health import webhook_health
from ..models import Webhook
from ..validators import scrub_surrogates
from .links import Grant

HEALTH_HOURS = 24


def render_page(
    request: HttpRequest,
    grant: Grant,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    section: str = "webhooks",
    status: int = 200,
) -> HttpResponse:
    """``template`` of the portal's; ``section`` is the navigation's current entry."""
    base = {
        "grant": grant,
        "api_key": grant.api_key,
        "section": section,
        # Whether or not the store's templates have the messages context processor.
        "messages": get_messages(request),
    }
    return render(
        request, f"django_webhooks/portal/{template}", {**base, **(context or {})}, status=status
    )


def summary(webhook: Webhook) -> dict[str, Any]:
    """A webhook with its health over the last day, for the overview and its own page."""
    health = webhook_health(webhook, hours=HEALTH_HOURS)
    return {
        "webhook": webhook,
        "event_labels": [events.label_for(event_type) for event_type in webhook.events],
        "filter_json": (
            json.dumps(scrub_surrogates(webhook.filter), indent=2, ensure_ascii=False)
            if webhook.filter
            else ""
        ),
        "health": health,
        "chart": hourly_chart(health),
        "success_percent": None if health.success_rate is None else 100 * health.success_rate,
    }
