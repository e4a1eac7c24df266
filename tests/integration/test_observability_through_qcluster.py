"""Metrics and trace context with a real qcluster (two worker processes) and a real receiver."""

from __future__ import annotations

import pytest
from django.db import transaction
from opentelemetry.sdk.trace import TracerProvider

from django_webhooks.models import DeliveryAttempt, Event, Webhook
from example_project.shop.models import Order
from tests.cluster import wait_until
from tests.metrics_support import scrape, value, with_token
from tests.receiver import Status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ORDERS = 12
TOTAL = "django_webhooks_attempts_total"


def settled() -> bool:
    return not DeliveryAttempt.objects.filter(status__in=["scheduled", "sending"]).exists()


def test_counters_grow_by_exactly_what_the_cluster_delivered(cluster, receiver, api_key):
    for n in range(3):
        Webhook.objects.create(
            api_key=api_key, url=receiver.url(f"/ok/{n}"), events=["order.created"]
        )
    # Every order's first attempt to /flaky fails, its retry (0.5 s later) succeeds.
    flaky = receiver.script("/flaky", [Status(500), Status(200)] * ORDERS)
    Webhook.objects.create(api_key=api_key, url=flaky, events=["order.created"])
    with with_token():
        before = scrape()
        for n in range(ORDERS):
            with transaction.atomic():
                Order.objects.create(note=f"metrics {n}")
        seen = []
        for arrived in range(5, ORDERS * 5 + 1, 5):
            receiver.wait_for(arrived, timeout=30)
            samples = scrape()  # while the workers deliver
            seen.append(value(samples, TOTAL, status="succeeded", event_type="order.created"))
        wait_until(settled, timeout=15, message="attempts still pending")
        after = scrape()

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert seen == sorted(seen)  # a counter never goes back
    assert grew(TOTAL, status="succeeded", event_type="order.created") == ORDERS * 4
    assert grew(TOTAL, status="failed", event_type="order.created") == ORDERS
    assert DeliveryAttempt.objects.filter(status="succeeded").count() == ORDERS * 4
    assert DeliveryAttempt.objects.filter(status="failed").count() == ORDERS
    assert grew("django_webhooks_attempt_duration_seconds_count", status="succeeded") == ORDERS * 4
    assert value(after, "django_webhooks_due_attempts") == 0
    assert value(after, "django_webhooks_sending_attempts") == 0
    assert value(after, "django_webhooks_undispatched_events") == 0


def test_the_receiver_gets_the_checkout_trace(cluster, receiver, api_key):
    provider = TracerProvider()
    Webhook.objects.create(api_key=api_key, url=receiver.url("/traced"), events=["order.created"])
    from django_webhooks.observability import tracing

    tracer = provider.get_tracer("checkout")
    original, tracing._tracer = tracing._tracer, provider.get_tracer(tracing.TRACER_NAME)
    try:
        with tracer.start_as_current_span("POST /checkout") as checkout, transaction.atomic():
            Order.objects.create(note="traced")
    finally:
        tracing._tracer = original
    trace_id = f"{checkout.get_span_context().trace_id:032x}"
    (request,) = receiver.wait_for(1, "/traced", timeout=15)
    event = Event.objects.get()
    assert event.traceparent.split("-")[1] == trace_id
    # The cluster has no SDK configured: it sends the recorded context on unchanged.
    assert request.headers["traceparent"] == event.traceparent
