"""``manage.py webhooks_reseal_headers``: encrypt every webhook's custom headers again with the
first key, the step of a key rotation between adding the new key and dropping the old one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from django_webhooks import sealing
from django_webhooks.exceptions import HeadersUnreadable
from django_webhooks.models import Webhook


class Command(BaseCommand):
    help = (
        "Re-encrypt the custom headers of every webhook with the first key of "
        "WEBHOOKS['HEADERS_KEYS'] (or the key derived from SECRET_KEY). Run it after putting a "
        "new key first, before dropping the old one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        resealed, unreadable = 0, []
        # The sealed column takes no lookups (fields.SecretTextField): its names say enough.
        sealed = Webhook.objects.exclude(header_names=[]).values_list("pk", flat=True)
        for pk in sealed.iterator():
            with transaction.atomic():
                webhook = Webhook.objects.select_for_update().only("headers_sealed").get(pk=pk)
                try:
                    webhook.headers_sealed = sealing.reseal(webhook.headers_sealed)
                except HeadersUnreadable:
                    unreadable.append(pk)
                    continue
                webhook.save(update_fields=["headers_sealed"])
                resealed += 1
        self.stdout.write(f"Re-encrypted the custom headers of {resealed} webhook(s).")
        if unreadable:
            raise CommandError(
                f"No configured key decrypts the headers of webhook(s) {unreadable}: keep the "
                "key they were encrypted with among HEADERS_KEYS (or SECRET_KEY_FALLBACKS)."
            )
