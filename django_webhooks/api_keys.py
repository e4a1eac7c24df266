"""API keys: a third party's credential and the secret that signs its webhooks' deliveries.

Kept beside :mod:`django_webhooks.models` (which re-exports them) so that module stays small.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import signing, tokens
from .conf import webhook_settings
from .fields import SecretCharField
from .validators import validate_filter

__all__ = ["DEFAULT_API_KEY_NAME", "ApiKey", "ApiKeyManager", "ApiKeyQuerySet"]

DEFAULT_API_KEY_NAME = "Default"


class ApiKeyQuerySet(models.QuerySet["ApiKey", "ApiKey"]):
    def usable(self, now: datetime | None = None) -> ApiKeyQuerySet:
        now = now or timezone.now()
        return self.filter(revoked=False).filter(
            Q(expiry_date__isnull=True) | Q(expiry_date__gt=now)
        )

    def revoke(self) -> list[ApiKey]:
        """Revoke the keys not revoked yet; returns them (their webhooks get nothing more)."""
        api_keys: list[ApiKey] = list(self.filter(revoked=False))
        self.model.objects.using(self.db).filter(pk__in=[key.pk for key in api_keys]).update(
            revoked=True
        )
        for api_key in api_keys:
            api_key.revoked = True
        return api_keys


_ApiKeyManagerBase = models.Manager.from_queryset(ApiKeyQuerySet)


class ApiKeyManager(_ApiKeyManagerBase["ApiKey"]):
    def create_key(self, **fields: Any) -> tuple[ApiKey, str]:
        """Create a key; returns ``(api_key, token)``. The token cannot be recovered later."""
        token, prefix, hashed = tokens.generate()
        api_key = self.create(prefix=prefix, hashed_key=hashed, **fields)
        return api_key, token

    def get_from_token(self, token: str) -> ApiKey | None:
        """The usable key this token belongs to, or None."""
        api_key = self.usable().filter(prefix=tokens.prefix_of(token)).first()
        if api_key is None or not tokens.matches(token, api_key.hashed_key):
            return None
        return api_key

    def default(self) -> ApiKey | None:
        return self.usable().filter(name=DEFAULT_API_KEY_NAME).order_by("created").first()


class ApiKey(models.Model):
    """A third party's credential and the secret that signs its webhooks' deliveries.

    The token is stored only as a hash (:mod:`django_webhooks.tokens`); the signing secret
    must stay readable because HMAC needs it.
    """

    name = models.CharField(_("name"), max_length=50)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hashed_key = SecretCharField(max_length=150, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    revoked = models.BooleanField(
        _("revoked"),
        default=False,
        help_text=_("A revoked key can no longer call the API and its webhooks get nothing."),
    )
    expiry_date = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    signing_secret = SecretCharField(
        _("signing secret"), max_length=100, default=signing.generate_secret, editable=False
    )
    previous_signing_secret = SecretCharField(max_length=100, blank=True, editable=False)
    previous_signing_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    scope = models.JSONField(
        _("scope"),
        default=dict,
        blank=True,
        validators=[validate_filter],
        help_text=_(
            "Optional, set by the store: what every webhook of this key is held to, whatever "
            "filter the key's owner gives them (they can only narrow it). Same form as a "
            'webhook\'s filter, e.g. {"items": {"supplier": "acme"}}.'
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ApiKeyManager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_usable(self) -> bool:
        return not self.revoked and not (self.expiry_date and self.expiry_date <= timezone.now())

    def active_signing_secrets(self, now: datetime | None = None) -> list[str]:
        """The current secret, then the previous one while its grace period lasts."""
        now = now or timezone.now()
        secrets_ = [self.signing_secret]
        expires = self.previous_signing_secret_expires_at
        if self.previous_signing_secret and expires and expires > now:
            secrets_.append(self.previous_signing_secret)
        return secrets_

    def revoke(self) -> None:
        ApiKey.objects.using(self._state.db).filter(pk=self.pk).revoke()
        self.revoked = True

    def rotate_signing_secret(self, grace: timedelta | None = None) -> str:
        if grace is None:
            grace = timedelta(hours=webhook_settings.SIGNING_SECRET_GRACE_HOURS)
        self.previous_signing_secret = self.signing_secret
        self.previous_signing_secret_expires_at = timezone.now() + grace
        self.signing_secret = signing.generate_secret()
        self.save(
            update_fields=[
                "signing_secret",
                "previous_signing_secret",
                "previous_signing_secret_expires_at",
            ]
        )
        return self.signing_secret
