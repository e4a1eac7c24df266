"""The admin's forms: a webhook with "Fire when" checkboxes from the event catalog; recovery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import events
from ..models import URL_MAX_LENGTH, ApiKey, Webhook, validate_destination_url
from ..validators import scrub_surrogates


class StoredJSONField(forms.JSONField):
    """Shows what is stored even when it holds lone surrogates (saved before they were
    refused): as U+FFFD, not as a page that cannot be encoded."""

    def prepare_value(self, value: Any) -> Any:
        return super().prepare_value(scrub_surrogates(value))


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
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The events that are delivered to this URL."),
    )

    class Meta:
        model = Webhook
        fields = ["api_key", "url", "events", "format", "is_active", "filter"]
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
