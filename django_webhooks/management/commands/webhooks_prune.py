"""``manage.py webhooks_prune``: delete the delivery log older than the retention period.

Rows go in small batches, each in its own short transaction, so the log stays writable for
the delivery engine throughout; attempts still scheduled or sending are never touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from django_webhooks.conf import webhook_settings
from django_webhooks.models import DeliveryAttempt, Event, event_id_floor

Status = DeliveryAttempt.Status
FINISHED = [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED]
DEFAULT_BATCH_SIZE = 1000


class Command(BaseCommand):
    help = (
        "Delete finished delivery attempts older than WEBHOOKS['RETENTION_DAYS'] (or --days), "
        "then the events left without attempts, in batches of short transactions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            help=f"Keep this many days (default: RETENTION_DAYS, now {self._default_days()}).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows per transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count; delete nothing.")

    @staticmethod
    def _default_days() -> int:
        return webhook_settings.RETENTION_DAYS

    def handle(
        self, *args: Any, days: int | None, batch_size: int, dry_run: bool, **options: Any
    ) -> None:
        days = self._default_days() if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        attempts = DeliveryAttempt.objects.filter(created_at__lt=cutoff, status__in=FINISHED)
        if dry_run:
            self.stdout.write(
                f"Dry run: {attempts.count()} delivery attempts are older than {days} days; "
                f"{_orphans(cutoff).count()} events have no attempts already."
            )
            return
        deleted_attempts = _delete_in_batches(attempts, batch_size)
        deleted_events = _delete_in_batches(_orphans(cutoff), batch_size)
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {deleted_attempts} delivery attempts and {deleted_events} events "
                f"older than {days} days."
            )
        )


def _orphans(cutoff: datetime) -> QuerySet[Event]:
    """Dispatched events older than ``cutoff`` that no attempt refers to any more."""
    return Event.objects.filter(pk__lt=event_id_floor(cutoff), dispatched_at__isnull=False).exclude(
        Exists(DeliveryAttempt.objects.filter(event=OuterRef("pk")))
    )


def _delete_in_batches(queryset: QuerySet[Any], batch_size: int) -> int:
    model = queryset.model
    deleted = 0
    while True:
        with transaction.atomic():
            # The ids are re-checked against the queryset's conditions by the delete itself.
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            _total, by_model = queryset.filter(pk__in=ids).delete()
            deleted += by_model.get(model._meta.label, 0)
