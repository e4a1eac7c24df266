"""The four tables: API keys (api_keys.py), webhooks, events (the outbox) and delivery
attempts; beside them the metrics' tally (observability/tally.py) and each webhook's
learned pace (pacing.py).

State changes that the admin, the API and the commands all make live here, once:
:meth:`Webhook.activate`, :meth:`Webhook.deactivate`, :meth:`ApiKey.revoke`,
:meth:`ApiKey.rotate_signing_secret`.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import events, pacing, sealing, sources
from .api_keys import DEFAULT_API_KEY_NAME, ApiKey, ApiKeyQuerySet
from .fields import SecretTextField
from .ids import event_id_floor, new_event_id
from .object_sequences import ObjectSequence
from .observability.tally import AttemptTally
from .pacing import Pacing
from .payloads import JSON, XML
from .validators import (
    URL_MAX_LENGTH,
    validate_destination_url,
    validate_event_types,
    validate_filter,
    validate_webhook_count,
)

__all__ = [
    "DEFAULT_API_KEY_NAME",
    "URL_MAX_LENGTH",
    "ApiKey",
    "ApiKeyQuerySet",
    "AttemptTally",
    "DeliveryAttempt",
    "Event",
    "ObjectSequence",
    "Overview",
    "Pacing",
    "Webhook",
    "event_id_floor",
    "new_event_id",
    "validate_destination_url",
    "validate_event_types",
    "validate_filter",
]


class WebhookQuerySet(models.QuerySet["Webhook", "Webhook"]):
    def deliverable(self, now: datetime | None = None) -> WebhookQuerySet:
        """Active webhooks whose API key is neither revoked nor expired."""
        now = now or timezone.now()
        return self.filter(is_active=True, api_key__revoked=False).filter(
            Q(api_key__expiry_date__isnull=True) | Q(api_key__expiry_date__gt=now)
        )

    def activate(self) -> list[Webhook]:
        """Switch the inactive ones back on; returns them."""
        webhooks: list[Webhook] = list(self.filter(is_active=False))
        self.model.objects.using(self.db).filter(
            pk__in=[webhook.pk for webhook in webhooks]
        ).update(is_active=True, deactivated_reason="", updated_at=timezone.now())
        pacing.reset([webhook.pk for webhook in webhooks], self.db)
        for webhook in webhooks:
            webhook.is_active, webhook.deactivated_reason = True, ""
        return webhooks


class Webhook(models.Model):
    class Format(models.TextChoices):
        JSON = JSON, "JSON"
        XML = XML, "XML"

    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("API key")
    )
    url = models.URLField(
        _("Destination URL"), max_length=URL_MAX_LENGTH, validators=[validate_destination_url]
    )
    events = models.JSONField(_("Fire when"), default=list, validators=[validate_event_types])
    format = models.CharField(_("Format"), max_length=4, choices=Format.choices, default=JSON)
    is_active = models.BooleanField(_("Active"), default=True)
    ordered = models.BooleanField(
        _("Deliver in order"),
        default=False,
        help_text=_(
            "Send the events of one object (an order, a customer) one at a time, in the order "
            "they happened: the next waits until the previous was delivered or given up."
        ),
    )
    filter = models.JSONField(
        _("Filter"),
        default=dict,
        blank=True,
        validators=[validate_filter],
        help_text=_(
            "Optional. Deliver only matching orders, and only matching order lines, e.g. "
            '{"object": {"status": {"in": ["paid", "complete"]}}, "items": {"supplier": "acme"}}.'
        ),
    )
    deactivated_reason = models.CharField(
        _("why it was switched off"), max_length=300, blank=True, editable=False
    )
    #: Custom headers, encrypted (sealing); their names in clear beside: set_custom_headers().
    headers_sealed = SecretTextField(blank=True, default="", editable=False)
    header_names = models.JSONField(_("custom headers"), default=list, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["is_active"], name="webhook_active_idx")]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        super().clean()
        if self._state.adding and self.api_key_id is not None:
            validate_webhook_count(self.api_key)
        if isinstance(self.events, list):
            try:
                sources.check_webhook_filter(self.filter, self.events)
            except ValidationError as error:
                raise ValidationError({"filter": error.messages}) from None

    def custom_headers(self) -> dict[str, str]:  # decrypted, for the request only: never shown
        return sealing.unseal(self.headers_sealed)

    def set_custom_headers(self, headers: dict[str, str]) -> None:
        """Replace the custom headers (unsaved; save ``headers_sealed`` and ``header_names``)."""
        self.headers_sealed = sealing.seal(headers)
        self.header_names = list(headers)

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.events

    def activate(self) -> None:
        """Switch the webhook back on (what failed meanwhile is not sent by itself)."""
        Webhook.objects.using(self._state.db).filter(pk=self.pk).activate()
        self.is_active, self.deactivated_reason = True, ""

    def deactivate(self, reason: str = "") -> int:
        """Switch the webhook off and cancel what is scheduled for it; returns how many."""
        with transaction.atomic(using=self._state.db):
            Webhook.objects.using(self._state.db).filter(pk=self.pk).update(
                is_active=False, deactivated_reason=reason[:300], updated_at=timezone.now()
            )
            self.is_active = False
            self.deactivated_reason = reason[:300]
            return self.cancel_scheduled_attempts()

    def cancel_scheduled_attempts(self) -> int:
        return (
            DeliveryAttempt.objects.using(self._state.db)
            .filter(webhook_id=self.pk, status=DeliveryAttempt.Status.SCHEDULED)
            .update(status=DeliveryAttempt.Status.CANCELLED, finished_at=timezone.now())
        )


class Event(models.Model):
    """The outbox row: written in the transaction that caused it, the source of truth.

    Order events get their ``data`` built by the worker, from ``object_state`` (the order's
    own fields as its transaction committed them) and the order's related rows as committed
    then (so items created later in that transaction are in it); ``dispatched_at`` is set
    when the attempts for its subscribers were created.
    """

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    type = models.CharField(_("event type"), max_length=events.EVENT_TYPE_MAX_LENGTH)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    object_model = models.CharField(max_length=100, blank=True)
    object_pk = models.CharField(max_length=100, blank=True)
    #: Per object: 1 for its first event, then 2, 3, … (object_sequences.py); None: no object.
    sequence = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    previous = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    # The order's concrete fields (by attname, as strings where JSON has no type for them)
    # at the last save of its transaction: a later change must not leak into this event.
    # JSON in a text column: only the worker reads it back, and the order save is spared the
    # database's JSON validation.
    object_state = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001 - None: no state kept
    data = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    #: The W3C traceparent of the span that recorded it (observability/tracing.py); None: none.
    traceparent = models.CharField(max_length=55, null=True, blank=True, editable=False)  # noqa: DJ001 - None: not traced

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(dispatched_at__isnull=True),
                name="event_undispatched_idx",
            ),
            # No index on created_at: ids are time-ordered, so "created before" is a primary
            # key range (event_id_floor), and every order save inserts one index less.
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryAttempt(models.Model):
    """One try at delivering one event to one webhook."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Trigger(models.TextChoices):
        EVENT = "event", _("Event")
        RETRY = "retry", _("Automatic retry")
        MANUAL = "manual", _("Redelivery")
        TEST = "test", _("Test")

    webhook = models.ForeignKey(
        Webhook,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attempts",
        verbose_name=_("webhook"),
    )
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("event")
    )
    url = models.URLField(_("URL"), max_length=URL_MAX_LENGTH)
    event_type = models.CharField(_("event type"), max_length=events.EVENT_TYPE_MAX_LENGTH)
    number = models.PositiveSmallIntegerField(_("attempt"))
    trigger = models.CharField(
        _("trigger"), max_length=10, choices=Trigger.choices, default=Trigger.EVENT
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    scheduled_for = models.DateTimeField(_("scheduled for"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claims = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=100, blank=True, editable=False)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_excerpt = models.TextField(_("response excerpt"), blank=True)
    #: The answer came from a non-public address: its text is for the store's staff only.
    answered_privately = models.BooleanField(default=False, editable=False)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    request_headers = models.JSONField(_("request headers"), null=True, blank=True)
    #: ``data.object`` as this webhook sees it when its filter changed it (null: the event's).
    object_override = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    #: For an ordered webhook: the event's object ("label:pk") and its number, which the
    #: claim reads (worker/ordering.py); blank for everything else, which goes in any order.
    object_key = models.CharField(max_length=201, blank=True, default="", editable=False)
    sequence = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery log")
        indexes = [
            # The delivery engine's hot query: due attempts, oldest first.
            models.Index(
                fields=["scheduled_for"],
                condition=Q(status="scheduled"),
                name="attempt_due_idx",
            ),
            # A webhook's requests in flight, on every worker (its pacing's room).
            models.Index(
                fields=["webhook"], condition=Q(status="sending"), name="attempt_in_flight_idx"
            ),
            # Leases that ran out (a worker died mid-flight).
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="attempt_lease_idx",
            ),
            # Ordered webhooks: an object's earlier attempts still to go (worker/ordering.py).
            models.Index(
                fields=["webhook", "object_key", "sequence"],
                # OR, not IN: SQLite matches a partial index's terms to bound parameters
                # only one by one.
                condition=(Q(status="scheduled") | Q(status="sending")) & ~Q(object_key=""),
                name="attempt_ordered_idx",
            ),
            # A webhook's log, newest first.
            models.Index(fields=["webhook", "-created_at"], name="attempt_webhook_recent_idx"),
            models.Index(fields=["event", "webhook"], name="attempt_event_webhook_idx"),
            # Pruning and "recover failed since".
            models.Index(fields=["created_at"], name="attempt_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.url} #{self.number}"

    @property
    def is_final(self) -> bool:
        return self.status in (
            self.Status.SUCCEEDED,
            self.Status.FAILED,
            self.Status.CANCELLED,
        )


class Overview(Webhook):
    """No table: the admin's overview page (admin/overview.py) is this model's change list."""

    class Meta:
        proxy = True
        verbose_name = _("overview")
        verbose_name_plural = _("overview")
