"""What the API reads and writes.

Input is strict: JSON types are not coerced (``1`` is not ``true``), unknown fields are
refused rather than silently dropped (a typo such as ``is_activ`` would otherwise "succeed"),
and every field answers with one clear message. Read-only fields may be sent back as they
were read, so a client can GET, change and PUT. Signing secrets, token hashes and request
signatures appear in no serializer here except :class:`SigningSecretSerializer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from .. import custom_headers, events, sealing, sources
from ..exceptions import HeadersUnreadable
from ..models import (
    URL_MAX_LENGTH,
    DeliveryAttempt,
    Webhook,
    validate_destination_url,
    validate_filter,
)
from ..validators import first_surrogate, scrub_surrogates, validate_webhook_count

#: How many unknown event types one error message names.
MAX_NAMED_UNKNOWN = 5


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` only: DRF's BooleanField also takes ``1``, ``"yes"``, ``"on"``."""

    def to_internal_value(self, data: Any) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


class EventTypesField(serializers.Field):
    """A non-empty list of registered event types; duplicates are dropped, order kept."""

    default_error_messages = {
        "not_a_list": _("Expected a list of event types."),
        "empty": _("Choose at least one event type."),
        "unknown": _("Unknown event type(s): {types}. GET event-types/ lists the valid ones."),
    }

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        unknown = [
            item for item in data if not isinstance(item, str) or not events.is_registered(item)
        ]
        if unknown:
            named = ", ".join(repr(item)[:100] for item in unknown[:MAX_NAMED_UNKNOWN])
            if len(unknown) > MAX_NAMED_UNKNOWN:
                named += ", …"
            self.fail("unknown", types=named)
        return list(dict.fromkeys(data))

    def to_representation(self, value: list[str]) -> list[str]:
        return list(value)


class CustomHeadersField(serializers.Field):
    """Write-only: header name to value, merged into the stored headers (null removes one)."""

    def to_internal_value(self, data: Any) -> dict[str, str | None]:
        problems = custom_headers.problems(data)
        if None in problems:
            raise serializers.ValidationError(problems[None])
        if problems:
            by_name = {str(name): messages for name, messages in problems.items()}
            raise serializers.ValidationError(by_name)  # keyed by header name
        return dict(data)

    def to_representation(self, value: Any) -> None:  # pragma: no cover - write-only
        return None


if TYPE_CHECKING:
    # StrictSerializerMixin is only ever mixed into a serializer: type it as one.
    _Serializer = serializers.Serializer[Any]
else:
    _Serializer = object


class StrictSerializerMixin(_Serializer):
    """Refuse fields the serializer does not have (read-only ones are accepted and ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unreadable = {
                str(scrub_surrogates(name)): [str(UNREADABLE_TEXT)]
                for name, value in data.items()
                if first_surrogate(name) or first_surrogate(value)
            }
            if unreadable:
                raise serializers.ValidationError(unreadable)
            writable = ", ".join(name for name, field in self.fields.items() if not field.read_only)
            message = str(_("Unknown field. The fields are: {fields}.")).format(fields=writable)
            unknown = {str(name): [message] for name in data if name not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if not isinstance(error.detail, dict):  # a serializer's errors are keyed by field
                raise
            # Report every problem at once, the unknown fields beside the invalid ones.
            raise serializers.ValidationError({**error.detail, **unknown}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


UNREADABLE_TEXT = _(
    "Text with a lone surrogate (an unpaired \\ud800-\\udfff escape) cannot be stored."
)


class WebhookSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """An endpoint subscribed to some event types."""

    url = serializers.CharField(
        max_length=URL_MAX_LENGTH,
        help_text=_("Where the events are POSTed: an http:// or https:// URL."),
    )
    events = EventTypesField(help_text=_("The event types delivered to this URL."))
    format = serializers.ChoiceField(
        choices=Webhook.Format.choices,
        required=False,
        help_text=_("The body's format (default json)."),
    )
    is_active = StrictBooleanField(
        required=False,
        help_text=_("Inactive webhooks get nothing; switching off cancels what is scheduled."),
    )
    ordered = StrictBooleanField(
        required=False,
        help_text=_(
            "Deliver the events of one object one at a time, in their order (default false): "
            "the next waits until the previous was delivered or given up."
        ),
    )
    filter = serializers.JSONField(
        required=False,
        validators=[validate_filter],
        help_text=_(
            "Optional: deliver only matching orders and order lines, e.g. "
            '{"object": {"status": {"in": ["paid"]}}, "items": {"supplier": "acme"}}.'
        ),
    )
    headers = CustomHeadersField(
        write_only=True,
        required=False,
        help_text=_(
            'Optional headers sent on every attempt, e.g. {"Authorization": "Bearer …"}: a '
            "value sets or replaces that header, null removes it, headers left out are kept. "
            "Values are stored encrypted and never shown again."
        ),
    )
    header_names = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text=_("The names of the custom headers (their values are never shown)."),
    )

    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "events",
            "format",
            "is_active",
            "ordered",
            "filter",
            "headers",
            "header_names",
            "deactivated_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "header_names", "deactivated_reason", "created_at", "updated_at"]

    def validate_url(self, value: str) -> str:
        validate_destination_url(value)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A filter must name what the payloads of the subscribed events have."""
        instance = self.instance
        if instance is None and "api_key" in self.context:
            try:
                validate_webhook_count(self.context["api_key"])
            except DjangoValidationError as error:
                raise serializers.ValidationError(
                    {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
                ) from None
        event_types = attrs.get("events", instance.events if instance else [])
        spec = attrs.get("filter", instance.filter if instance else {})
        try:
            sources.check_webhook_filter(spec, event_types)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"filter": error.messages}) from None
        if "headers" in attrs:
            attrs.update(self._sealed_headers(attrs.pop("headers")))
        return attrs

    def _sealed_headers(self, changes: dict[str, str | None]) -> dict[str, Any]:
        """The change applied to what is stored: the model fields that keep the result."""
        try:
            stored = self.instance.custom_headers() if self.instance else {}
        except HeadersUnreadable:
            raise serializers.ValidationError(
                {"headers": [_("The stored headers cannot be decrypted: ask the store.")]}
            ) from None
        headers = custom_headers.merged(stored, changes)
        too_many = custom_headers.too_many(headers)
        if too_many:
            raise serializers.ValidationError({"headers": [too_many]})
        return {"headers_sealed": sealing.seal(headers), "header_names": list(headers)}

    def update(self, instance: Webhook, validated_data: dict[str, Any]) -> Webhook:
        wanted_active = validated_data.pop("is_active", instance.is_active)
        with transaction.atomic():
            for name, value in validated_data.items():
                setattr(instance, name, value)
            if validated_data:
                # Only the fields sent: a full save could undo a concurrent switch-off.
                instance.save(update_fields=[*validated_data, "updated_at"])
            if instance.is_active and not wanted_active:
                instance.deactivate(str(_("Switched off through the API.")))
            elif wanted_active and not instance.is_active:
                instance.activate()
        # Answer with what is stored, including a switch-off made meanwhile.
        instance.refresh_from_db()
        return instance


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    """One try at delivering one event to one webhook.

    An answer from a non-public address (a store that allows those) is not shown: the key's
    owner would otherwise read the store's internal services through it.
    """

    def to_representation(self, instance: DeliveryAttempt) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.answered_privately:
            data["response_excerpt"] = ""
        return data

    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "webhook",
            "url",
            "event_id",
            "event_type",
            "number",
            "trigger",
            "status",
            "response_status",
            "response_excerpt",
            "error",
            "scheduled_for",
            "finished_at",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryAttemptFilterSerializer(serializers.Serializer):
    """The attempt log's query parameters."""

    status = serializers.ChoiceField(
        choices=DeliveryAttempt.Status.choices,
        required=False,
        help_text=_("Only attempts in this status."),
    )
    event_type = serializers.CharField(
        max_length=events.EVENT_TYPE_MAX_LENGTH,
        required=False,
        help_text=_("Only attempts of this event type."),
    )


class EventTypeSerializer(serializers.Serializer):
    """An event type: its label, the JSON Schema of its body, an example body, its XSD."""

    type = serializers.CharField(read_only=True)
    # DRF's metaclass takes declared fields off the class: this does not replace Field.label.
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    schema = serializers.DictField(
        read_only=True,
        help_text=_("JSON Schema (2020-12) of the whole JSON body a destination receives."),
    )
    example = serializers.DictField(
        read_only=True, help_text=_("A JSON body of this type, valid against the schema.")
    )
    xsd = serializers.URLField(
        read_only=True, help_text=_("The XML Schema (XSD) every XML body of this type satisfies.")
    )


class EventTypeChoiceField(serializers.CharField):
    """One type of the event catalog."""

    default_error_messages = {
        "unknown": _("Unknown event type {type}. GET event-types/ lists the valid ones."),
    }

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            self.fail("unknown", type="None")  # not DRF's "may not be null": name what was sent
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not events.is_registered(data):
            self.fail("unknown", type=repr(data)[:100])
        return data


class TestEventSerializer(StrictSerializerMixin, serializers.Serializer):
    """What a test delivery sends."""

    type = EventTypeChoiceField(
        required=False,
        default=events.WEBHOOK_TEST,
        help_text=_("webhook.test (the default), or any type of the catalog: its example is sent."),
    )


class SigningSecretSerializer(serializers.Serializer):
    """A freshly rotated signing secret."""

    signing_secret = serializers.CharField(
        read_only=True,
        help_text=_("Signs every delivery from now on. Shown only in this answer: store it."),
    )
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True,
        help_text=_("Until then deliveries also carry a signature made with the previous secret."),
    )


class ErrorSerializer(serializers.Serializer):
    """Why the request was refused."""

    detail = serializers.CharField(read_only=True)
