"""The admin's webhook form: "Fire when" as checkboxes labelled from the event catalog."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import events
from .models import URL_MAX_LENGTH, ApiKey, Webhook, validate_destination_url


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
        fields = ["api_key", "url", "events", "format", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "api_key" in self.fields:
            self.fields["api_key"].queryset = ApiKey.objects.filter(revoked=False)
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
