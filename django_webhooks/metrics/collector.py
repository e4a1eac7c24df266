"""The metric families, read from the database at each scrape (a custom Collector).

The rows are shared by every qcluster process on every host, so the figures are true for
the whole deployment, whichever web process answers the scrape. A scrape costs a fixed
number of queries: the tally (bounded by event types x verdicts x buckets x shards), the
backlog's four on partial indexes (:mod:`..observability.backlog`), the engine's pace (two:
a row per webhook sent to, requests in flight on a partial index), whatever the number of
attempts ever made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from django.db import DEFAULT_DB_ALIAS
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..observability import pace, tally
from ..observability.backlog import backlog
from ..policy import Verdict

PREFIX = "django_webhooks"
#: Verdicts that switched the webhook off (DEACTIVATE) or deleted it (UNSUBSCRIBE).
SWITCH_OFF_VERDICTS = (Verdict.DEACTIVATE.value, Verdict.UNSUBSCRIBE.value)


def status_of(verdict: str) -> str:
    return "succeeded" if verdict == Verdict.SUCCEEDED.value else "failed"


class WebhooksCollector(Collector):
    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using

    def collect(self) -> Iterator[Metric]:
        yield from self._attempts(tally.totals(self.using))
        yield from self._backlog()
        yield from self._pacing()

    def _pacing(self) -> Iterator[Metric]:
        """Each webhook's learned limit and requests in flight (labelled by its id), and how
        many are paused by a receiver's Retry-After. Webhooks never sent to have no limit yet."""
        now = pace.read(self.using)
        limit = GaugeMetricFamily(
            f"{PREFIX}_webhook_concurrency_limit",
            "The concurrency limit the engine learned for a webhook (requests at a time).",
            labels=["webhook"],
        )
        in_flight = GaugeMetricFamily(
            f"{PREFIX}_webhook_in_flight",
            "Requests in flight to a webhook, by all workers.",
            labels=["webhook"],
        )
        for webhook_id, slots in sorted(now.limits.items()):
            limit.add_metric([str(webhook_id)], slots)
        for webhook_id, count in sorted(now.in_flight.items()):
            in_flight.add_metric([str(webhook_id)], count)
        yield limit
        yield in_flight
        yield GaugeMetricFamily(
            f"{PREFIX}_webhooks_paused",
            "Webhooks paused now because their receiver answered 429 or 503 with Retry-After.",
            value=now.paused,
        )

    def _attempts(self, totals: list[tally.Total]) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            f"{PREFIX}_attempts",
            "Delivery attempts that reached a verdict, by status and event type.",
            labels=["status", "event_type"],
        )
        switched_off = CounterMetricFamily(
            f"{PREFIX}_webhooks_switched_off",
            "Answers that switched their webhook off (deactivate) or deleted it (unsubscribe).",
            labels=["verdict"],
        )
        duration = HistogramMetricFamily(
            f"{PREFIX}_attempt_duration_seconds",
            "How long attempts took, from the request to the end of the answer, by status.",
            labels=["status"],
        )
        by_type: defaultdict[tuple[str, str], int] = defaultdict(int)
        by_verdict: defaultdict[str, int] = defaultdict(int)
        buckets: defaultdict[str, defaultdict[int, int]] = defaultdict(lambda: defaultdict(int))
        sums: defaultdict[str, int] = defaultdict(int)
        for total in totals:
            status = status_of(total.verdict)
            by_type[(status, total.event_type)] += total.count
            by_verdict[total.verdict] += total.count
            buckets[status][total.le_ms] += total.count
            sums[status] += total.duration_ms_sum
        for (status, event_type), value in sorted(by_type.items()):
            attempts.add_metric([status, event_type], value)
        for verdict in SWITCH_OFF_VERDICTS:
            switched_off.add_metric([verdict], by_verdict.get(verdict, 0))
        for status in ("succeeded", "failed"):
            cumulative, points = 0, []
            for bound in (*tally.BUCKETS_MS, tally.INF_MS):
                cumulative += buckets[status].get(bound, 0)
                le = "+Inf" if bound == tally.INF_MS else _seconds(bound)
                points.append((le, cumulative))
            duration.add_metric([status], points, sum_value=sums[status] / 1000)
        yield attempts
        yield duration
        yield switched_off

    def _backlog(self) -> Iterator[Metric]:
        now = backlog(self.using)
        gauges = [
            ("due_attempts", "Attempts due now and not sent yet.", now.due),
            (
                "oldest_due_attempt_age_seconds",
                "How long the oldest due attempt has been waiting (0: none is due).",
                now.age(now.oldest_due),
            ),
            ("sending_attempts", "Attempts being sent right now, by all workers.", now.sending),
            (
                "undispatched_events",
                "Events recorded and not fanned out to their webhooks yet.",
                now.undispatched,
            ),
            (
                "oldest_undispatched_event_age_seconds",
                "How long the oldest undispatched event has been waiting (0: none).",
                now.age(now.oldest_undispatched),
            ),
        ]
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)
        webhooks = GaugeMetricFamily(
            f"{PREFIX}_webhooks", "Webhooks, switched on (active) or off.", labels=["state"]
        )
        webhooks.add_metric(["active"], now.active_webhooks)
        webhooks.add_metric(["inactive"], now.inactive_webhooks)
        yield webhooks


def _seconds(milliseconds: int) -> str:
    return format(milliseconds / 1000, "g")
