"""OpenTelemetry spans, when the store has ``opentelemetry-api`` installed; nothing when not.

- ``webhooks.record``: the event rows written in the store's transaction (a child of whatever
  span is current: the checkout's request). Its W3C ``traceparent`` is kept with each event
  (``Event.traceparent``), so the worker's spans, minutes later and on another host, join the
  checkout's trace.
- ``webhooks.dispatch``: an event fanned out to its webhooks, a child of the recording.
- ``webhooks.attempt``: one request to a receiver (a CLIENT span, child of the recording),
  from the moment it is prepared to the moment its outcome is written; its ``traceparent``
  goes to the receiver as a header (``WEBHOOKS["TRACEPARENT_HEADER"]``), so the receiver's
  own spans join the trace too.

Without the package every function here is a no-op that costs a function call (the order
save must not pay for tracing it does not do). With the API but no SDK configured, the
API's no-op tracer hands the recorded ``traceparent`` through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..conf import webhook_settings

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

try:
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # optional: tracing is off
    otel_trace = None  # type: ignore[assignment]

TRACER_NAME = "django_webhooks"
#: W3C traceparent, version 00: ``00-<32 hex trace id>-<16 hex span id>-<2 hex flags>``.
TRACEPARENT_LENGTH = 55
#: Attempt spans waiting for their outcome, per process; beyond this the oldest are ended
#: (an outcome that was never written: a lost lease, a failed batch).
MAX_OPEN_SPANS = 10_000

_tracer: Tracer | None = None
_open: dict[int, Span] = {}


def enabled() -> bool:
    return otel_trace is not None


def tracer() -> Tracer:
    global _tracer
    if _tracer is None:
        # A proxy: it follows a tracer provider the store sets up after this import.
        _tracer = otel_trace.get_tracer(TRACER_NAME)
    return _tracer


def traceparent_of(span: Span) -> str | None:
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def parent_context(traceparent: str | None) -> Any:
    """The OpenTelemetry context a stored ``traceparent`` stands for (None: none stored)."""
    if not traceparent:
        return None
    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


class _Recording:
    """``with recording(new_events) as traceparent``: the span of one write of event rows."""

    def __init__(self, new_events: Sequence[Any]) -> None:
        self.span = tracer().start_span(
            "webhooks.record",
            attributes={
                "webhooks.event.types": sorted({new.type for new in new_events}),
                "webhooks.event.count": len(new_events),
            },
        )

    def __enter__(self) -> str | None:
        traceparent = traceparent_of(self.span)
        return traceparent if traceparent and len(traceparent) <= TRACEPARENT_LENGTH else None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None:
            self.span.record_exception(error)
            self.span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR))
        self.span.end()


class _NotRecording:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NOT_RECORDING = _NotRecording()


def recording(new_events: Sequence[Any]) -> _Recording | _NotRecording:
    """The span of one write of event rows (``recording.outbox.NewEvent``s), or a no-op."""
    if otel_trace is None:
        return _NOT_RECORDING
    return _Recording(new_events)


def dispatched(events: Sequence[Any], attempts_per_event: dict[str, int]) -> None:
    """One ``webhooks.dispatch`` span per event fanned out (they are already written)."""
    if otel_trace is None:
        return
    for event in events:
        span = tracer().start_span(
            "webhooks.dispatch",
            context=parent_context(event.traceparent),
            attributes={
                "webhooks.event.id": event.pk,
                "webhooks.event.type": event.type,
                "webhooks.attempt.count": attempts_per_event.get(event.pk, 0),
            },
        )
        span.end()


def start_attempt(attempt: Any, url: str) -> str | None:
    """Start the attempt's span; returns the ``traceparent`` header's value, or None."""
    event = attempt.event
    if otel_trace is None:
        traceparent = event.traceparent  # no spans of ours: the receiver still joins the trace
    else:
        span = tracer().start_span(
            "webhooks.attempt",
            context=parent_context(event.traceparent),
            kind=otel_trace.SpanKind.CLIENT,
            attributes={
                "server.address": urlsplit(url).hostname or "",
                "http.request.method": "POST",
                "webhooks.event.id": event.pk,
                "webhooks.event.type": event.type,
                "webhooks.webhook.id": attempt.webhook_id or 0,
                "webhooks.attempt.number": attempt.number,
            },
        )
        if span.is_recording():
            _keep(attempt.pk, span)
        traceparent = traceparent_of(span)
    return traceparent if webhook_settings.TRACEPARENT_HEADER else None


def _keep(attempt_id: int, span: Span) -> None:
    stale = _open.pop(attempt_id, None)
    if stale is not None:
        stale.end()
    _open[attempt_id] = span
    while len(_open) > MAX_OPEN_SPANS:
        _open.pop(next(iter(_open))).end()


def end_attempt(
    attempt_id: int, *, status: str, verdict: str, response_status: int | None, duration_ms: int
) -> None:
    """End the attempt's span with its outcome (written and committed)."""
    span = _open.pop(attempt_id, None)
    if span is None:
        return
    span.set_attributes(
        {
            "webhooks.attempt.status": status,
            "webhooks.verdict": verdict,
            "webhooks.duration_ms": duration_ms,
        }
    )
    if response_status is not None:
        span.set_attribute("http.response.status_code", response_status)
    if status != "succeeded":
        span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, verdict))
    span.end()
