"""``manage.py webhooks_stats``: how each webhook's deliveries went, and what is waiting."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from django_webhooks.health import WebhookStats, webhook_stats
from django_webhooks.models import DeliveryAttempt, Event, Webhook

Status = DeliveryAttempt.Status


class Command(BaseCommand):
    help = (
        "Per webhook: attempts succeeded and failed, success rate and durations, the learned "
        "concurrency limit, requests in flight and any pause; the backlog."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours", type=int, default=24, help="The window to look at (default 24)."
        )
        parser.add_argument(
            "--webhook",
            type=int,
            action="append",
            default=[],
            dest="webhook_ids",
            metavar="ID",
            help="Only this webhook (repeatable).",
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print JSON (for monitoring)."
        )

    def handle(
        self, *args: Any, hours: int, webhook_ids: list[int], as_json: bool, **options: Any
    ) -> None:
        if hours < 1:
            raise CommandError("--hours must be at least 1.")
        now = timezone.now()
        webhooks = Webhook.objects.select_related("api_key").order_by("pk")
        if webhook_ids:
            webhooks = webhooks.filter(pk__in=webhook_ids)
        rows = webhook_stats(webhooks, now - timedelta(hours=hours))
        backlog = _backlog(now)
        if as_json:
            self.stdout.write(_as_json(rows, backlog, hours))
        else:
            self._table(rows, backlog, hours)

    def _table(self, rows: list[WebhookStats], backlog: dict[str, Any], hours: int) -> None:
        header = (
            "ID", "ACTIVE", "OK", "FAILED", "RATE", "AVG MS", "MAX MS", "WAITING",
            "LIMIT", "IN FLIGHT", "PAUSED UNTIL", "URL",
        )  # fmt: skip
        lines = [header]
        for row in rows:
            lines.append(
                (
                    str(row.webhook.pk),
                    "yes" if row.webhook.is_active else "no",
                    str(row.succeeded),
                    str(row.failed),
                    _percent(row.success_rate),
                    "—" if row.average_ms is None else f"{row.average_ms:.0f}",
                    "—" if row.slowest_ms is None else str(row.slowest_ms),
                    str(row.scheduled),
                    "—" if row.pace is None else str(row.pace.shown_limit),
                    "—" if row.pace is None else str(row.pace.in_flight),
                    _moment(row.pace.paused_until if row.pace else None),
                    row.webhook.url,
                )
            )
        widths = [max(len(line[column]) for line in lines) for column in range(len(header) - 1)]
        self.stdout.write(f"Deliveries over the last {hours} hours:")
        for line in lines:
            cells = [cell.rjust(width) for cell, width in zip(line, widths, strict=False)]
            self.stdout.write("  ".join([*cells, line[-1]]))
        oldest = backlog["oldest_due_seconds"]
        self.stdout.write(
            f"Due now: {backlog['due']}"
            + (f" (oldest waiting {oldest:.0f} s)" if oldest is not None else "")
            + f"; undispatched events: {backlog['undispatched']}."
        )


def _moment(moment: datetime | None) -> str:
    return "—" if moment is None else moment.isoformat(timespec="seconds")


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


def _backlog(now: datetime) -> dict[str, Any]:
    """Work the cluster has not picked up: a growing number means it is not keeping up."""
    due = DeliveryAttempt.objects.filter(status=Status.SCHEDULED, scheduled_for__lte=now)
    oldest = due.order_by("scheduled_for").values_list("scheduled_for", flat=True).first()
    return {
        "due": due.count(),
        "oldest_due_seconds": (now - oldest).total_seconds() if oldest else None,
        "undispatched": Event.objects.filter(dispatched_at__isnull=True).count(),
    }


def _as_json(rows: list[WebhookStats], backlog: dict[str, Any], hours: int) -> str:
    return json.dumps(
        {
            "hours": hours,
            "webhooks": [
                {
                    "id": row.webhook.pk,
                    "url": row.webhook.url,
                    "api_key": row.webhook.api_key.name,
                    "is_active": row.webhook.is_active,
                    "succeeded": row.succeeded,
                    "failed": row.failed,
                    "cancelled": row.cancelled,
                    "success_rate": row.success_rate,
                    "average_ms": row.average_ms,
                    "slowest_ms": row.slowest_ms,
                    "scheduled": row.scheduled,
                    "limit": row.pace.shown_limit if row.pace else None,
                    "limit_learned": row.pace.limit if row.pace else None,
                    "in_flight": row.pace.in_flight if row.pace else None,
                    "paused_until": (
                        row.pace.paused_until.isoformat()
                        if row.pace and row.pace.paused_until
                        else None
                    ),
                }
                for row in rows
            ],
            "backlog": backlog,
        }
    )
