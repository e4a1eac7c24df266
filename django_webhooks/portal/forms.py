"""The portal's forms. A webhook's form only carries what was typed to the API's serializer.

:class:`WebhookForm` is made from :class:`~django_webhooks.api.serializers.WebhookSerializer`'s
writable fields (an input per field; checkboxes from the event catalog, each with its example
payload; custom headers as write-only lines), checks nothing itself, and hands the values to
the serializer, whose messages it shows beside the fields: the portal and the API accept and
refuse exactly the same webhooks, with the same words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from .. import catalog, events
from ..api.serializers import CustomHeadersField, EventTypesField, WebhookSerializer
from ..models import DeliveryAttempt, Webhook
from ..validators import scrub_surrogates

if TYPE_CHECKING:
    SerializerField = serializers.Field[Any, Any, Any, Any]

#: Set by the API only, or by a button of their own (Reactivate / Switch off).
NOT_IN_THE_FORM = {"is_active"}


class UncheckedMultipleChoiceField(forms.MultipleChoiceField):
    """Offers choices, accepts any list: the serializer says what is wrong, in the API's words."""

    def validate(self, value: Any) -> None:
        pass


class UncheckedChoiceField(forms.ChoiceField):
    def validate(self, value: Any) -> None:
        pass


class JSONTextField(forms.CharField):
    """JSON typed into a text area; empty is ``{}``."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "pt-code"})

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value) or ""
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise forms.ValidationError(_("Enter valid JSON."), code="invalid") from None

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            if not value:
                return ""
            return json.dumps(scrub_surrogates(value), indent=2, ensure_ascii=False)
        return value


class EventCheckboxes(forms.CheckboxSelectMultiple):
    """A checkbox per type of the catalog, with that type's example body (``option.example``)."""

    def create_option(
        self,
        name: str,
        value: Any,
        label: Any,
        selected: Any,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(
            name, value, label, selected, index, subindex, attrs
        )
        entry = catalog.entry(str(value))
        option["example"] = json.dumps(entry.example, indent=2, ensure_ascii=False) if entry else ""
        return option


class WriteOnlyTextarea(forms.Textarea):
    """Never renders a value: not a stored header, not one just typed into a refused form."""

    def format_value(self, value: Any) -> None:
        return None


class HeaderLinesField(forms.CharField):
    """``Name: value`` lines; ``{name: value}`` in the order given."""

    widget = WriteOnlyTextarea(
        attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false", "class": "pt-code"}
    )

    def to_python(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        headers: dict[str, str] = {}
        problems = []
        for number, line in enumerate((super().to_python(value) or "").splitlines(), 1):
            if not line.strip():
                continue
            name, colon, text = line.partition(":")
            if not colon:
                # Never echo the line: it may be a secret typed without its name.
                problems.append(_("Line %(n)d: write “Name: value”.") % {"n": number})
            headers[name.strip()] = text.strip()
        if problems:
            raise forms.ValidationError(problems)
        return headers


def _events_field(field: SerializerField, **common: Any) -> forms.Field:
    return UncheckedMultipleChoiceField(choices=events.choices, widget=EventCheckboxes, **common)


def _headers_field(field: SerializerField, **common: Any) -> forms.Field:
    common["label"] = _("Set custom headers")
    common["help_text"] = _(
        "Optional, one per line: “Authorization: Bearer …”. Sent on every attempt; sets or "
        "replaces a header of that name. Values are stored encrypted and never shown again."
    )
    return HeaderLinesField(**common)


def _choice_field(field: SerializerField, **common: Any) -> forms.Field:
    assert isinstance(field, serializers.ChoiceField)
    return UncheckedChoiceField(choices=list(field.choices.items()), **common)


def _boolean_field(field: SerializerField, **common: Any) -> forms.Field:
    return forms.BooleanField(**common)


def _json_field(field: SerializerField, **common: Any) -> forms.Field:
    return JSONTextField(**common)


def _text_field(field: SerializerField, **common: Any) -> forms.Field:
    attrs = {"autocomplete": "off", "spellcheck": "false"}
    widget = forms.URLInput(attrs) if field.field_name == "url" else forms.TextInput(attrs)
    return forms.CharField(strip=False, widget=widget, **common)


#: Serializer field class -> the form field that carries its value; most specific first.
FORM_FIELDS: list[tuple[type[SerializerField], Callable[..., forms.Field]]] = [
    (EventTypesField, _events_field),
    (CustomHeadersField, _headers_field),
    (serializers.ChoiceField, _choice_field),
    (serializers.BooleanField, _boolean_field),
    (serializers.JSONField, _json_field),
    (serializers.CharField, _text_field),
]


def _form_field(name: str, field: SerializerField) -> forms.Field | None:
    try:
        model_field = Webhook._meta.get_field(name)
    except FieldDoesNotExist:
        model_field = None
    if isinstance(model_field, models.Field):
        label: Any = capfirst(model_field.verbose_name)
        help_text: Any = model_field.help_text or field.help_text
    else:
        label, help_text = field.label, field.help_text
    common = {"label": label, "help_text": help_text or "", "required": False}
    for field_class, make in FORM_FIELDS:
        if isinstance(field, field_class):
            return make(field, **common)
    return None


class WebhookForm(forms.Form):
    """Adds or changes one webhook of ``api_key`` through :class:`WebhookSerializer`."""

    def __init__(self, *args: Any, api_key: Any, instance: Webhook | None = None, **kwargs: Any):
        self.api_key, self.instance = api_key, instance
        self.serializer: WebhookSerializer | None = None
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = WebhookSerializer(instance).data
        super().__init__(*args, **kwargs)
        for name, field in WebhookSerializer().fields.items():
            if field.read_only or name in NOT_IN_THE_FORM:
                continue
            form_field = _form_field(name, field)
            if form_field is not None:
                self.fields[name] = form_field
        names = list(instance.header_names or []) if instance is not None else []
        if "headers" in self.fields and names:
            self.fields["remove_headers"] = forms.MultipleChoiceField(
                label=_("Remove custom headers"),
                required=False,
                choices=[(name, name) for name in names],
                widget=forms.CheckboxSelectMultiple,
                help_text=_(
                    "The custom headers this webhook sends (values hidden): tick to remove."
                ),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        # Like an API client, send only what the form sent (a field a page leaves out keeps
        # its default or stored value); unchecked boxes send nothing, and mean none (or no).
        payload = {
            name: cleaned[name]
            for name, field in self.fields.items()
            if name in cleaned
            and name != "remove_headers"
            and (
                name in self.data
                or isinstance(field, forms.MultipleChoiceField | forms.BooleanField)
            )
        }
        # Headers merge, as in the API: a value sets one, None removes one, the rest stay.
        headers: dict[str, str | None] = dict(payload.pop("headers", None) or {})
        for name in cleaned.get("remove_headers") or []:
            headers.setdefault(name, None)
        if headers:
            payload["headers"] = headers
        serializer = WebhookSerializer(
            self.instance, data=payload, context={"api_key": self.api_key}
        )
        if serializer.is_valid():
            self.serializer = serializer
        else:
            self._add_serializer_errors(serializer.errors)
        return cleaned

    def _add_serializer_errors(self, errors: Mapping[str, Any]) -> None:
        for name, messages in errors.items():
            target = name if name in self.fields else None
            if name == api_settings.NON_FIELD_ERRORS_KEY:
                target = None
            for message in _flat(messages):
                self.add_error(target, message)


def _flat(messages: Any, prefix: str = "") -> list[str]:
    """DRF's errors of one field as sentences: a nested ``{"name": [...]}`` as ``name: …``."""
    if isinstance(messages, Mapping):
        return [
            text for key, value in messages.items() for text in _flat(value, f"{prefix}{key}: ")
        ]
    if isinstance(messages, list | tuple):
        return [text for message in messages for text in _flat(message, prefix)]
    return [f"{prefix}{messages}"]


class DeliveryFilterForm(forms.Form):
    """The delivery list's filters (GET): status, event type, an event id."""

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *DeliveryAttempt.Status.choices],
    )
    event_type = forms.ChoiceField(label=_("Event type"), required=False, choices=[])
    event_id = forms.CharField(
        label=_("Event id"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": "evt_…", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        event_type = self.fields["event_type"]
        assert isinstance(event_type, forms.ChoiceField)
        event_type.choices = [("", _("Any type")), *events.choices()]

    def clean_event_id(self) -> str:
        term: str = self.cleaned_data["event_id"].strip()
        if term[:4].lower() == "evt_":
            term = "evt_" + term[4:].upper()  # ids are upper case; people paste them as they come
        return term

    def filters(self) -> dict[str, str]:
        """The valid, non-empty filters as queryset lookups."""
        if not self.is_bound:
            return {}
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: cleaned[name] for name in self.fields if cleaned.get(name)}


class RecoverForm(forms.Form):
    """ "Recover failed since…": what this webhook never received since then is sent again."""

    since = forms.DateTimeField(
        label=_("Since"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "since" not in self.initial:
            yesterday = timezone.localtime() - timedelta(days=1)
            self.initial["since"] = yesterday.replace(second=0, microsecond=0)
        self.fields["since"].help_text = _("In the store's time zone, %(zone)s.") % {
            "zone": timezone.get_current_timezone_name()
        }

    def clean_since(self) -> datetime:
        since: datetime = self.cleaned_data["since"]
        if since > timezone.now():
            raise forms.ValidationError(_("Choose a moment in the past."), code="future")
        return since
