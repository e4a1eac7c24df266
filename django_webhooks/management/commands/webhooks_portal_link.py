"""``manage.py webhooks_portal_link "NAME" [--hours N] [--base-url URL]``: a portal link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from django_webhooks.conf import webhook_settings
from django_webhooks.models import ApiKey
from django_webhooks.portal import links


class Command(BaseCommand):
    help = (
        "Print a link that opens the consumer portal for an API key, without a password. "
        "Anyone holding the link manages that key's webhooks until it expires: send it "
        "only to the key's owner. Revoking the key or rotating its signing secret voids it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The API key's name (as in the admin).")
        parser.add_argument(
            "--hours",
            type=int,
            default=links.DEFAULT_HOURS,
            help=f"How long the link is valid (default {links.DEFAULT_HOURS}; at most "
            "WEBHOOKS['PORTAL_LINK_MAX_HOURS']).",
        )
        parser.add_argument(
            "--base-url",
            help="The store's address, e.g. https://store.example.com "
            "(default: WEBHOOKS['PORTAL_BASE_URL']).",
        )

    def handle(
        self, *args: Any, name: str, hours: int, base_url: str | None, **options: Any
    ) -> None:
        if not webhook_settings.PORTAL:
            raise CommandError("The portal is switched off (WEBHOOKS['PORTAL'] is False).")
        base_url = base_url or webhook_settings.PORTAL_BASE_URL
        if not base_url:
            raise CommandError(
                "Give the store's address with --base-url https://store.example.com, or set "
                "WEBHOOKS['PORTAL_BASE_URL']."
            )
        if not base_url.startswith(("https://", "http://")):
            raise CommandError(f"--base-url {base_url!r} must start with https:// or http://.")
        api_key = _usable_key(name)
        try:
            token, expires_at = links.issue(api_key, hours)
        except ValueError as error:
            raise CommandError(f"--hours {hours}: {error}") from None
        try:
            link = links.absolute_link(token, base_url)
        except links.PortalNotMounted:
            raise CommandError(
                'The portal is not mounted: add path("portal/", '
                'include("django_webhooks.portal.urls")) to the URLconf.'
            ) from None
        until = timezone.localtime(expires_at).strftime("%Y-%m-%d %H:%M %Z")
        self.stderr.write(
            f"Portal link for the API key “{api_key.name}” (prefix {api_key.prefix}), valid "
            f"until {until}. Whoever holds it manages that key's webhooks: send it to the "
            "key's owner only."
        )
        self.stdout.write(link)


def _usable_key(name: str) -> ApiKey:
    keys = list(ApiKey.objects.usable().filter(name=name).order_by("created")[:2])
    if not keys:
        unusable = ApiKey.objects.filter(name=name).exists()
        raise CommandError(
            f"The API key “{name}” is revoked or expired."
            if unusable
            else f"No API key is named “{name}”."
        )
    if len(keys) > 1:
        raise CommandError(
            f"Several usable API keys are named “{name}”: rename one in the admin "
            "(Settings, API keys) to tell them apart."
        )
    return keys[0]
