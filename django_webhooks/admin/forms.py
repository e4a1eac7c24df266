"""The admin's forms: a webhook with "Fire when" checkboxes from the event catalog, each with
its example payload, and write-only custom headers; recovery."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import catalog, custom_headers, events
from ..exceptions import HeadersUnreadable
from ..models import URL_MAX_LENGTH, ApiKey, Webhook, validate_destination_url
from ..validators import scrub_surrogates


class StoredJSONField(forms.JSONField):
    """Shows what is stored even when it holds lone surrogates (saved before they were
    refused): as U+FFFD, not as a page that cannot be encoded."""

    def prepare_value(self, value: Any) -> Any:
        return super().prepare_value(scrub_surrogates(value))


class EventCheckboxes(forms.CheckboxSelectMultiple):
    """ "Fire when": a checkbox per type, with its example payload folded beneath."""

    option_template_name = "django_webhooks/widgets/event_option.html"

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
    """Never renders a value: not a stored header, not one just typed into a form with errors."""

    def format_value(self, value: Any) -> None:
        return None


class WebhookForm(forms.ModelForm):
    url = forms.URLField(
        label=_("Destination URL"),
        max_length=URL_MAX_LENGTH,
        assume_scheme="https",
        validators=[validate_destination_url],
        widget=forms.URLInput(attrs={"size": 80}),
        help_text=_("Where the events are POSTed: an http:// or https:// URL."),
    )
    events = forms.MultipleChoiceField(
        label=_("Fire when"),
        choices=events.choices,
        widget=EventCheckboxes,
        help_text=_("The events that are delivered to this URL."),
    )
    set_headers = forms.CharField(
        label=_("Set custom headers"),
        required=False,
        widget=WriteOnlyTextarea(
            attrs={"rows": 3, "cols": 80, "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text=_(
            "Optional, one per line: “Authorization: Bearer …”. Sent on every attempt; sets or "
            "replaces a header of that name. Values are stored encrypted and never shown again."
        ),
    )
    remove_headers = forms.MultipleChoiceField(
        label=_("Remove custom headers"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The custom headers this webhook sends (values hidden): tick to remove."),
    )

    class Meta:
        model = Webhook
        fields = ["api_key", "url", "events", "format", "is_active", "ordered", "filter"]
        field_classes = {"filter": StoredJSONField}
        widgets = {
            "filter": forms.Textarea(
                attrs={"rows": 4, "cols": 80, "style": "font-family: monospace"}
            )
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        api_key = self.fields.get("api_key")
        if isinstance(api_key, forms.ModelChoiceField):
            api_key.queryset = ApiKey.objects.filter(revoked=False)
            if not self.instance.pk and not self.initial.get("api_key"):
                default = ApiKey.objects.default()
                if default is not None:
                    self.initial["api_key"] = default.pk
        if "events" in self.fields and self.instance.pk:
            self.initial["events"] = self.instance.events
        if "remove_headers" in self.fields:
            names = list(self.instance.header_names or [])
            remove = self.fields["remove_headers"]
            assert isinstance(remove, forms.MultipleChoiceField)
            remove.choices = [(name, name) for name in names]
            if not names:
                self.fields["remove_headers"].help_text = _("No custom headers are set.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        changes: dict[str, str | None] = {}
        messages = []
        for number, line in enumerate((cleaned.get("set_headers") or "").splitlines(), 1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon:
                # Never echo the line: it may be a secret typed without its name.
                messages.append(gettext("Line %(n)d: write “Name: value”.") % {"n": number})
                continue
            changes[name.strip()] = value.strip()
        for name in cleaned.get("remove_headers") or []:
            changes.setdefault(name, None)
        for name, problems in custom_headers.problems(changes).items():
            messages += [f"{name}: {problem}" for problem in problems]
        if not messages and changes:
            try:
                headers = custom_headers.merged(self.instance.custom_headers(), changes)
            except HeadersUnreadable as error:
                headers, messages = {}, [str(error)]
            too_many = custom_headers.too_many(headers)
            if too_many:
                messages.append(too_many)
            elif not messages:
                self._headers = headers
        if messages:
            self.add_error("set_headers", messages)
        return cleaned

    _headers: dict[str, str] | None = None

    def save(self, commit: bool = True) -> Webhook:
        if self._headers is not None:
            self.instance.set_custom_headers(self._headers)
        webhook: Webhook = super().save(commit)
        return webhook

    def clean_events(self) -> list[str]:
        chosen = set(self.cleaned_data["events"])
        # Keep the catalog's order, so the stored list reads like the checkboxes.
        return [
            event_type.type for event_type in events.get_event_types() if event_type.type in chosen
        ]


class RecoverFailedForm(forms.Form):
    """The intermediate page of "Recover failed deliveries since…"."""

    since = forms.DateTimeField(
        label=_("Since"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Events that happened since then and were never delivered are sent again."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Only these events"),
        choices=events.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Leave all unchecked to recover every event type."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "since" not in self.initial:
            yesterday = timezone.localtime() - timedelta(days=1)
            self.initial["since"] = yesterday.replace(second=0, microsecond=0)

    def clean_since(self) -> datetime:
        since: datetime = self.cleaned_data["since"]
        if since > timezone.now():
            raise forms.ValidationError(_("Choose a moment in the past."), code="future")
        return since
