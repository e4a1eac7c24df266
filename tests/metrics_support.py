"""Scraping GET /metrics in tests, and reading it back with prometheus_client's parser."""

from __future__ import annotations

from django.test import Client
from django.test.utils import override_settings
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-the-tests-0123456789"


def with_token(**webhooks):
    from django.conf import settings

    return override_settings(WEBHOOKS={**settings.WEBHOOKS, "METRICS_TOKEN": TOKEN, **webhooks})


def scrape(client: Client | None = None, token: str = TOKEN) -> dict[tuple, float]:
    """Every sample as ``{(name, ((label, value), ...)): value}``."""
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def parse(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def names(samples: dict[tuple, float]) -> set[str]:
    return {name for name, _labels in samples}
