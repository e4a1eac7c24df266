"""``manage.py webhooks_recover --since 6h``: send again what failed, e.g. during an outage."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from django_webhooks import events, redelivery
from django_webhooks.models import Webhook

from ._moments import parse_since

PROGRESS_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Schedule a new attempt for every event since a moment that a webhook never received "
        "(all its attempts failed or were cancelled). Same event id and payload as before."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            required=True,
            help="ISO 8601 (2026-11-28T09:00, server time zone if none given) or a duration "
            "ago: 30m, 6h, 2d.",
        )
        parser.add_argument(
            "--webhook",
            type=int,
            action="append",
            default=[],
            dest="webhook_ids",
            metavar="ID",
            help="Only this webhook (repeatable). Default: every active webhook.",
        )
        parser.add_argument(
            "--event-type",
            action="append",
            default=[],
            dest="event_types",
            metavar="TYPE",
            help="Only this event type (repeatable), e.g. order.created.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be sent; send nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=redelivery.RECOVER_BATCH_SIZE,
            help="Deliveries scheduled per transaction and wake-up "
            f"(default {redelivery.RECOVER_BATCH_SIZE}).",
        )

    def handle(
        self,
        *args: Any,
        since: str,
        webhook_ids: list[int],
        event_types: list[str],
        dry_run: bool,
        batch_size: int,
        verbosity: int,
        **options: Any,
    ) -> None:
        moment = parse_since(since)
        if moment > timezone.now():
            raise CommandError("--since must be in the past.")
        unknown = [event_type for event_type in event_types if not events.is_registered(event_type)]
        if unknown:
            raise CommandError(f"Unknown event type(s): {', '.join(unknown)}.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        webhooks = self._webhooks(webhook_ids)
        failed = redelivery.failed_deliveries(webhooks, moment, event_types=event_types)
        by_webhook = Counter(item.webhook_id for item in failed)
        urls = {webhook.pk: webhook.url for webhook in webhooks}
        when = timezone.localtime(moment).isoformat(timespec="seconds")
        self.stdout.write(
            f"{len(failed)} failed deliveries since {when} to {len(by_webhook)} webhook(s)."
        )
        if verbosity >= 2 or dry_run:
            for webhook_id, count in sorted(by_webhook.items()):
                self.stdout.write(f"  webhook {webhook_id} {urls[webhook_id]}: {count}")
        if dry_run:
            self.stdout.write("Dry run: nothing was scheduled.")
            return
        if not failed:
            return
        scheduled = redelivery.recover_failed(
            failed, batch_size=batch_size, progress=self._progress
        )
        self.stderr.write("")
        self.stdout.write(self.style.SUCCESS(f"Scheduled {scheduled} deliveries again."))

    def _webhooks(self, webhook_ids: list[int]) -> list[Webhook]:
        if not webhook_ids:
            return list(Webhook.objects.filter(is_active=True))
        webhooks = list(Webhook.objects.filter(pk__in=webhook_ids))
        missing = set(webhook_ids) - {webhook.pk for webhook in webhooks}
        if missing:
            raise CommandError(f"No webhook with id {', '.join(map(str, sorted(missing)))}.")
        inactive = [webhook.pk for webhook in webhooks if not webhook.is_active]
        if inactive:
            raise CommandError(
                f"Webhook(s) {', '.join(map(str, inactive))} are inactive: reactivate them first."
            )
        return webhooks

    def _progress(self, done: int, total: int) -> None:
        filled = PROGRESS_WIDTH * done // total
        bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
        self.stderr.write(f"\r[{bar}] {done}/{total}", ending="")
        self.stderr.flush()
