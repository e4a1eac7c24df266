"""The Settings section of the admin: API keys, webhooks and the delivery log."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import events
from .forms import WebhookForm
from .models import ApiKey, DeliveryAttempt, Webhook


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created", "last_used_at", "expiry_date", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "prefix"]
    fields = ["name", "prefix", "expiry_date", "revoked", "created", "last_used_at"]
    readonly_fields = ["prefix", "created", "last_used_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        if obj is not None and obj.revoked:
            return [*self.readonly_fields, "name", "expiry_date", "revoked"]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        from . import tokens

        token, obj.prefix, obj.hashed_key = tokens.generate()
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            format_html(
                _(
                    "The token of the API key “{}” is <code class='api-key-token'>{}</code>. "
                    "Store it now: it is shown only this once."
                ),
                obj.name,
                token,
            ),
        )


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["url", "api_key", "fired_on", "is_active", "last_delivery"]
    list_filter = ["is_active", "format", "api_key"]
    search_fields = ["url"]
    list_select_related = ["api_key"]
    readonly_fields = ["deactivated_reason", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest):
        latest = DeliveryAttempt.objects.filter(webhook=OuterRef("pk")).order_by(
            "-created_at", "-id"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status=Subquery(latest.values("status")[:1]),
                last_response_status=Subquery(latest.values("response_status")[:1]),
            )
        )

    @admin.display(description=_("Fire when"))
    def fired_on(self, webhook: Webhook) -> str:
        return ", ".join(events.label_for(event_type) for event_type in webhook.events)

    @admin.display(description=_("Last delivery"))
    def last_delivery(self, webhook: Webhook) -> str:
        if not getattr(webhook, "last_status", None):
            return "—"
        label = DeliveryAttempt.Status(webhook.last_status).label
        if webhook.last_response_status:
            return f"{label} (HTTP {webhook.last_response_status})"
        return str(label)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event_type",
        "event_id",
        "url",
        "number",
        "status",
        "response_status",
        "duration_ms",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["event__id", "url"]
    list_select_related = ["webhook"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
