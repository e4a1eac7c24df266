"""Portal links: signed with Django's signing, bound to one API key as it is now, short-lived.

A link carries ``{"k": key id, "v": version, "e": expiry}`` signed with ``SECRET_KEY``
(:mod:`django.core.signing`, salted for this use). ``version`` is a keyed digest of the key's
id, its current signing secret and its revoked flag: rotating the secret or revoking the key
changes it, and every link made before no longer matches. Nothing is stored per link.

The session a link opens is the same triple, signed with another salt, in a cookie that
expires with the link; each request checks it again, key and version included
(:mod:`.session`), so a session ends when its link would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core import signing
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from ..conf import webhook_settings
from ..models import ApiKey

LINK_SALT = "django_webhooks.portal.link"
SESSION_SALT = "django_webhooks.portal.session"
DEFAULT_HOURS = 1
#: Real links carry ~150 characters; anything much longer is not worth an HMAC.
MAX_TOKEN_LENGTH = 400


class LinkRefused(Exception):
    """Why a link (or a session) does not open the portal."""

    EXPIRED = "expired"
    #: Not made by this store (altered, cut short, another SECRET_KEY).
    INVALID = "invalid"
    #: Made by this store, but its key was revoked, expired or deleted, or its secret rotated.
    VOID = "void"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PortalNotMounted(Exception):
    """The store's URLconf has no ``include("django_webhooks.portal.urls")``."""


@dataclass(frozen=True)
class Grant:
    """What a valid link or session gives: this key's portal, until ``expires_at``."""

    api_key: ApiKey
    expires_at: datetime


def key_version(api_key: ApiKey) -> str:
    """Names the key's state that a link is bound to, without revealing its secret."""
    state = f"{api_key.pk}:{api_key.signing_secret}:{int(api_key.revoked)}"
    return salted_hmac("django_webhooks.portal.key", state, algorithm="sha256").hexdigest()[:32]


def hours_message() -> str:
    return _("Give a whole number of hours from 1 to %(most)d.") % {
        "most": webhook_settings.PORTAL_LINK_MAX_HOURS
    }


def checked_hours(hours: int | None) -> int:
    """``hours``, or the default; ValueError saying the range if it is outside it."""
    if hours is None:
        return DEFAULT_HOURS
    most = webhook_settings.PORTAL_LINK_MAX_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= most:
        raise ValueError(hours_message())
    return hours


def sign(api_key: ApiKey, expires_at: datetime, salt: str) -> str:
    payload = {"k": api_key.pk, "v": key_version(api_key), "e": int(expires_at.timestamp())}
    return signing.dumps(payload, salt=salt)


def issue(api_key: ApiKey, hours: int | None = None) -> tuple[str, datetime]:
    """A link token for ``api_key`` and when it expires (to the second)."""
    valid_for = timedelta(hours=checked_hours(hours))
    expires_at = (timezone.now() + valid_for).replace(microsecond=0)
    return sign(api_key, expires_at, LINK_SALT), expires_at


def redeem(token: str, salt: str = LINK_SALT) -> Grant:
    """The grant ``token`` carries, checked against the key as it is now; else LinkRefused."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefused(LinkRefused.INVALID)
    try:
        payload = signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise LinkRefused(LinkRefused.INVALID) from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("k"), int)
        or not isinstance(payload.get("v"), str)
        or not isinstance(payload.get("e"), int)
    ):
        raise LinkRefused(LinkRefused.INVALID)
    expires_at = datetime.fromtimestamp(payload["e"], tz=UTC)
    if expires_at <= timezone.now():
        raise LinkRefused(LinkRefused.EXPIRED)
    api_key = ApiKey.objects.usable().filter(pk=payload["k"]).first()
    if api_key is None or not constant_time_compare(payload["v"], key_version(api_key)):
        raise LinkRefused(LinkRefused.VOID)
    if api_key.expiry_date is not None:
        expires_at = min(expires_at, api_key.expiry_date)
    return Grant(api_key=api_key, expires_at=expires_at)


def link_path(token: str) -> str:
    try:
        return reverse("webhooks_portal:open", args=[token])
    except NoReverseMatch:
        raise PortalNotMounted from None


def is_mounted() -> bool:
    try:
        reverse("webhooks_portal:home")
    except NoReverseMatch:
        return False
    return True


def absolute_link(token: str, base_url: str) -> str:
    """The link on ``base_url`` (``https://store.example.com``, no trailing slash needed)."""
    return base_url.rstrip("/") + link_path(token)
