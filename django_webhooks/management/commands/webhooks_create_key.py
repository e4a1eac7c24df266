"""``manage.py webhooks_create_key NAME``: a key for a third party, its secrets printed once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from django_webhooks.models import ApiKey


class Command(BaseCommand):
    help = (
        "Create an API key and print its token and signing secret. They are shown only this "
        "once: the token is stored as a hash, and the secret is never displayed again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who the key is for, e.g. the third party's name.")
        parser.add_argument(
            "--expires", help="When the key stops working (ISO 8601, e.g. 2027-01-31T00:00)."
        )
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print a JSON object (for scripts).",
        )

    def handle(
        self, *args: Any, name: str, expires: str | None, as_json: bool, **options: Any
    ) -> None:
        name = name.strip()
        max_length = ApiKey._meta.get_field("name").max_length
        if not name or (max_length is not None and len(name) > max_length):
            raise CommandError(f"Give a name of 1 to {max_length} characters.")
        expiry_date = _parse_expiry(expires) if expires else None
        api_key, token = ApiKey.objects.create_key(name=name, expiry_date=expiry_date)
        if as_json:
            self.stdout.write(_json(api_key, token))
            return
        self.stdout.write(
            self.style.SUCCESS(f"Created the API key “{api_key.name}” (prefix {api_key.prefix}).")
        )
        self.stdout.write(
            "Store both now: they are shown only this once.\n\n"
            "Token (the third party sends it as `Authorization: Api-Key <token>`):\n"
            f"  {token}\n\n"
            "Signing secret (the third party verifies `webhook-signature` with it):\n"
            f"  {api_key.signing_secret}\n"
        )


def _parse_expiry(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        raise CommandError(f"--expires {value!r} is not an ISO 8601 date and time.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment <= timezone.now():
        raise CommandError("--expires must be in the future.")
    return moment


def _json(api_key: ApiKey, token: str) -> str:
    return json.dumps(
        {
            "id": api_key.pk,
            "name": api_key.name,
            "prefix": api_key.prefix,
            "token": token,
            "signing_secret": api_key.signing_secret,
            "expires": api_key.expiry_date.isoformat() if api_key.expiry_date else None,
        }
    )
