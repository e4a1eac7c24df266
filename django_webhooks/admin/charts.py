"""The webhook page's hourly bar chart, drawn server-side as SVG geometry."""

from __future__ import annotations

from typing import Any

from ..health import Health

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
