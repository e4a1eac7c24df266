"""Webhooks: the add and change pages with health, recent attempts and buttons; actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import URLPattern
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import catalog, events, redelivery
from ..display import hourly_chart
from ..exceptions import DeliveryRefused, UnknownEventType
from ..health import webhook_health
from ..models import DeliveryAttempt, Webhook, WebhookQuerySet
from .base import ADMIN_CSS, ObjectViewsMixin, status_badge
from .forms import RecoverFailedForm, WebhookForm

RECENT_ATTEMPTS = 20
HEALTH_HOURS = 24


@admin.register(Webhook)
class WebhookAdmin(ObjectViewsMixin, admin.ModelAdmin):
    form = WebhookForm
    change_form_template = "django_webhooks/admin/webhook_change_form.html"
    list_display = ["url", "api_key", "fired_on", "is_active", "last_delivery"]
    list_filter = ["is_active", "format", "ordered", "api_key"]
    search_fields = ["url"]
    list_select_related = ["api_key"]
    readonly_fields = ["deactivated_reason", "created_at", "updated_at"]
    actions = ["activate", "deactivate", "send_test", "recover_failed"]

    class Media:
        css = ADMIN_CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Webhook]:
        latest = DeliveryAttempt.objects.filter(webhook=OuterRef("pk")).order_by(
            "-created_at", "-id"
        )
        webhooks: QuerySet[Webhook] = super().get_queryset(request)
        return webhooks.annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_response_status=Subquery(latest.values("response_status")[:1]),
        )

    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "api_key" and formfield is not None:
            # A key added from a popup would close it before its token could be shown.
            formfield.widget.can_add_related = False
            formfield.widget.can_delete_related = False
        return formfield

    @admin.display(description=_("Fire when"))
    def fired_on(self, webhook: Webhook) -> str:
        return ", ".join(events.label_for(event_type) for event_type in webhook.events)

    @admin.display(description=_("Last delivery"))
    def last_delivery(self, webhook: Webhook) -> str:
        status = getattr(webhook, "last_status", None)
        if not status:
            return "—"
        response_status = getattr(webhook, "last_response_status", None)
        if response_status:
            return format_html("{} HTTP {}", status_badge(status), response_status)
        return status_badge(status)

    # The webhook page: health, recent attempts, buttons.

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Webhook | None = None,
    ) -> HttpResponse:
        webhook = obj
        if webhook is not None:
            health = webhook_health(webhook, hours=HEALTH_HOURS)
            context.update(
                health=health,
                success_percent=(
                    None if health.success_rate is None else 100 * health.success_rate
                ),
                chart=hourly_chart(health),
                recent_attempts=list(
                    webhook.attempts.order_by("-created_at", "-id")[:RECENT_ATTEMPTS]
                ),
                can_deliver=self.has_change_permission(request, webhook),
                test_event_types=[(entry.type, entry.label) for entry in catalog.entries()],
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self) -> list[URLPattern]:
        return [
            self._object_url("send_test", self.send_test_view, "send-test"),
            self._object_url("reactivate", self.reactivate_view, "reactivate"),
            *super().get_urls(),
        ]

    def _webhook_to_change(self, request: HttpRequest, object_id: str) -> Webhook:
        webhook: Webhook = self._get_object_or_404(request, object_id)
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        return webhook

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self._webhook_to_change(request, object_id)
        event_type = request.POST.get("type") or events.WEBHOOK_TEST
        try:
            redelivery.send_test(webhook, event_type)
        except DeliveryRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        except UnknownEventType:
            self.message_user(
                request,
                gettext("Unknown event type %(type)r.") % {"type": event_type[:100]},
                messages.ERROR,
            )
        else:
            sent = (
                gettext("A test event is on its way.")
                if event_type == events.WEBHOOK_TEST
                else gettext("The example %(type)s event is on its way.") % {"type": event_type}
            )
            self.message_user(request, sent, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(webhook))

    def reactivate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self._webhook_to_change(request, object_id)
        self._activate(request, Webhook.objects.filter(pk=webhook.pk))
        self.message_user(
            request,
            gettext(
                "The webhook is active again. What failed meanwhile can be sent again with "
                "“Recover failed deliveries”."
            ),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._change_url(webhook))

    # List actions.

    def _activate(self, request: HttpRequest, queryset: WebhookQuerySet) -> int:
        switched_on = queryset.activate()
        for webhook in switched_on:
            self.log_change(request, webhook, gettext("Activated."))
        return len(switched_on)

    @admin.action(description=_("Activate selected webhooks"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: WebhookQuerySet) -> None:
        count = self._activate(request, queryset)
        self.message_user(
            request,
            ngettext("Activated %(count)d webhook.", "Activated %(count)d webhooks.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Deactivate selected webhooks"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        reason = gettext("Deactivated in the admin by %(user)s.") % {
            "user": request.user.get_username()
        }
        webhooks = list(queryset.filter(is_active=True))
        cancelled = sum(webhook.deactivate(reason) for webhook in webhooks)
        for webhook in webhooks:
            self.log_change(request, webhook, gettext("Deactivated."))
        self.message_user(
            request,
            ngettext(
                "Deactivated %(count)d webhook",
                "Deactivated %(count)d webhooks",
                len(webhooks),
            )
            % {"count": len(webhooks)}
            + ngettext(
                "; cancelled %(cancelled)d scheduled delivery.",
                "; cancelled %(cancelled)d scheduled deliveries.",
                cancelled,
            )
            % {"cancelled": cancelled},
            messages.SUCCESS,
        )

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        sent = skipped = 0
        for webhook in queryset:
            try:
                redelivery.send_test(webhook)
            except DeliveryRefused:
                skipped += 1
            else:
                sent += 1
        if sent:
            self.message_user(
                request,
                ngettext(
                    "A test event is on its way to %(count)d webhook.",
                    "A test event is on its way to %(count)d webhooks.",
                    sent,
                )
                % {"count": sent},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d inactive webhook was skipped.",
                    "%(count)d inactive webhooks were skipped.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Recover failed deliveries since…"), permissions=["change"])
    def recover_failed(
        self, request: HttpRequest, queryset: QuerySet[Webhook]
    ) -> TemplateResponse | None:
        form = RecoverFailedForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            webhooks = list(queryset)
            failed = redelivery.failed_deliveries(
                webhooks,
                form.cleaned_data["since"],
                event_types=form.cleaned_data["event_types"],
            )
            scheduled = redelivery.recover_failed(failed)
            inactive = sum(not webhook.is_active for webhook in webhooks)
            self.message_user(
                request,
                ngettext(
                    "Sending %(count)d failed delivery again.",
                    "Sending %(count)d failed deliveries again.",
                    scheduled,
                )
                % {"count": scheduled},
                messages.SUCCESS if scheduled else messages.INFO,
            )
            if inactive:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d inactive webhook was skipped: reactivate it first.",
                        "%(count)d inactive webhooks were skipped: reactivate them first.",
                        inactive,
                    )
                    % {"count": inactive},
                    messages.WARNING,
                )
            return None
        title = gettext("Recover failed deliveries")
        context = {
            **self._page_context(request, title, ("", title)),
            "form": form,
            "webhooks": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "django_webhooks/admin/recover_failed.html", context)
