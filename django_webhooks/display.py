"""What the admin and the consumer portal show alike: a webhook's hourly bar chart (SVG
geometry, drawn server-side) and an attempt's body as it was sent."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from . import payloads
from .health import Health
from .models import DeliveryAttempt

CHART_BAR_WIDTH = 10
CHART_BAR_GAP = 2
CHART_HEIGHT = 48


def hourly_chart(health: Health) -> dict[str, Any]:
    """Geometry of the hourly bar chart: successes at the bottom, failures stacked on top."""
    tallest = max((hour.total for hour in health.hours), default=0) or 1
    bars = []
    for index, hour in enumerate(health.hours):
        succeeded = _bar_height(hour.succeeded, tallest)
        failed = _bar_height(hour.failed, tallest)
        bars.append(
            {
                "hour": hour,
                "x": index * (CHART_BAR_WIDTH + CHART_BAR_GAP),
                "succeeded_y": CHART_HEIGHT - succeeded,
                "succeeded_height": succeeded,
                "failed_y": CHART_HEIGHT - succeeded - failed,
                "failed_height": failed,
            }
        )
    return {
        "bars": bars,
        "width": len(bars) * (CHART_BAR_WIDTH + CHART_BAR_GAP) - CHART_BAR_GAP,
        "height": CHART_HEIGHT,
        "bar_width": CHART_BAR_WIDTH,
        "tallest": tallest,
    }


def _bar_height(count: int, tallest: int) -> int:
    if not count:
        return 0
    return max(1, round(CHART_HEIGHT * count / tallest))  # a single failure stays visible


def sent_format(attempt: DeliveryAttempt) -> str:
    """The format it was sent in (the webhook's may have changed since)."""
    content_type = (attempt.request_headers or {}).get("Content-Type", "")
    if content_type:
        return payloads.XML if "xml" in content_type else payloads.JSON
    return attempt.webhook.format if attempt.webhook else payloads.JSON


def sent_body(attempt: DeliveryAttempt) -> str | None:
    """The body the attempt sent (or will send), indented; None if its event has no payload."""
    event = attempt.event
    if event.data is None:
        return None
    fmt = sent_format(attempt)
    return indented(payloads.render_event(event, fmt, attempt.object_override), fmt)


def indented(body: bytes, fmt: str) -> str:
    """Easier to read than the compact bytes on the wire; the same content."""
    if fmt == payloads.XML:
        element = ElementTree.fromstring(body)
        ElementTree.indent(element)
        return ElementTree.tostring(element, encoding="unicode")
    return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
