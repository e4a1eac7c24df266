"""OpenTelemetry: one trace from the order save to the attempts, and the receiver's header.

The delivery runs in this process (``worker.engine.run()``) so that the SDK's in-memory
exporter sees the worker's spans too; tests/integration checks the header through a real
qcluster.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import transaction
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from django_webhooks.models import Event, Webhook
from django_webhooks.observability import tracing
from django_webhooks.worker import engine
from example_project.shop.models import Order
from tests.metrics_support import with_token
from tests.receiver import Status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def exported(monkeypatch):
    """The spans this test ends, and a tracer for the store's own (the checkout's)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer(tracing.TRACER_NAME))
    yield provider.get_tracer("shop"), exporter
    provider.shutdown()


def traceparent(context) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def by_name(exporter, name):
    return [span for span in exporter.get_finished_spans() if span.name == name]


def test_one_trace_from_the_order_save_to_the_attempt_spans(exported, receiver, api_key, woken):
    tracer, exporter = exported
    ok = Webhook.objects.create(api_key=api_key, url=receiver.url("/ok"), events=["order.created"])
    failing = receiver.script("/down", [Status(503)])
    Webhook.objects.create(api_key=api_key, url=failing, events=["order.created"])
    with tracer.start_as_current_span("POST /checkout") as checkout, transaction.atomic():
        Order.objects.create(note="traced")
    assert engine.run().sent == 2

    trace_id = checkout.get_span_context().trace_id
    (record,) = by_name(exporter, "webhooks.record")
    (dispatch,) = by_name(exporter, "webhooks.dispatch")
    attempts = {
        span.attributes["http.response.status_code"]: span
        for span in by_name(exporter, "webhooks.attempt")
    }
    assert {span.context.trace_id for span in exporter.get_finished_spans()} == {trace_id}
    assert record.parent.span_id == checkout.get_span_context().span_id
    assert record.attributes["webhooks.event.types"] == ("order.created",)
    event = Event.objects.get()
    assert event.traceparent == traceparent(record.context)
    assert dispatch.parent.span_id == record.context.span_id
    assert dispatch.attributes["webhooks.attempt.count"] == 2
    assert set(attempts) == {200, 503}
    for span in attempts.values():
        assert span.parent.span_id == record.context.span_id
        assert span.kind is SpanKind.CLIENT
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["webhooks.attempt.number"] == 1
        assert span.attributes["webhooks.event.id"] == event.pk
        assert isinstance(span.attributes["webhooks.duration_ms"], int)
    assert attempts[200].attributes["webhooks.verdict"] == "succeeded"
    assert attempts[200].attributes["webhooks.webhook.id"] == ok.pk
    assert attempts[503].attributes["webhooks.verdict"] == "failed"
    assert attempts[503].status.status_code is StatusCode.ERROR
    # Each receiver got the trace, with its own attempt's span as the parent.
    for path, status in (("/ok", 200), ("/down", 503)):
        (request,) = receiver.received(path)
        assert request.headers["traceparent"] == traceparent(attempts[status].context)


def test_the_header_can_be_turned_off(exported, receiver, api_key, woken):
    tracer, exporter = exported
    Webhook.objects.create(api_key=api_key, url=receiver.url("/ok"), events=["order.created"])
    with with_token(TRACEPARENT_HEADER=False):
        with tracer.start_as_current_span("POST /checkout"), transaction.atomic():
            Order.objects.create()
        engine.run()
    (request,) = receiver.received("/ok")
    assert "traceparent" not in {name.lower() for name in request.headers}
    assert len(by_name(exporter, "webhooks.attempt")) == 1  # the spans are still made


def test_a_save_outside_any_trace_sends_no_header(receiver, api_key, woken):
    Webhook.objects.create(api_key=api_key, url=receiver.url("/ok"), events=["order.created"])
    Order.objects.create()
    engine.run()
    assert Event.objects.get().traceparent is None
    (request,) = receiver.received("/ok")
    assert "traceparent" not in {name.lower() for name in request.headers}


def test_without_opentelemetry_nothing_is_traced(exported, receiver, api_key, woken, monkeypatch):
    tracer, exporter = exported
    monkeypatch.setattr(tracing, "otel_trace", None)
    Webhook.objects.create(api_key=api_key, url=receiver.url("/ok"), events=["order.created"])
    with tracer.start_as_current_span("POST /checkout"), transaction.atomic():
        Order.objects.create()
    engine.run()
    assert Event.objects.get().traceparent is None
    assert [span.name for span in exporter.get_finished_spans()] == ["POST /checkout"]


def test_a_worker_without_opentelemetry_still_passes_the_recorded_trace_on(
    receiver, api_key, woken, monkeypatch
):
    Webhook.objects.create(api_key=api_key, url=receiver.url("/ok"), events=["order.created"])
    Order.objects.create()
    recorded = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    Event.objects.update(traceparent=recorded)
    monkeypatch.setattr(tracing, "otel_trace", None)
    engine.run()
    (request,) = receiver.received("/ok")
    assert request.headers["traceparent"] == recorded


def test_the_package_imports_and_records_nothing_without_opentelemetry():
    script = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from django_webhooks.observability import tracing\n"
        "assert not tracing.enabled()\n"
        "with tracing.recording([]) as traceparent:\n"
        "    assert traceparent is None\n"
        "tracing.dispatched([object()], {})\n"
        "print('untraced')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "untraced"
