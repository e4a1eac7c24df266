"""The delivery log: every attempt, read-only, with the body sent and the answer."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseNotAllowed
from django.urls import URLPattern, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import events, redelivery
from ..display import sent_body
from ..exceptions import DeliveryRefused
from ..models import DeliveryAttempt, Webhook
from .base import ADMIN_CSS, ObjectViewsMixin, preformatted, redirect_target, status_badge


class EventTypeFilter(admin.SimpleListFilter):
    """The catalog's types, so the filter costs no scan of the log."""

    title = _("event type")
    parameter_name = "event_type"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [(event_type, str(label)) for event_type, label in events.choices()]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[DeliveryAttempt]
    ) -> QuerySet[DeliveryAttempt]:
        if self.value():
            return queryset.filter(event_type=self.value())
        return queryset


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ObjectViewsMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "status_display",
        "event_type",
        "attempt_display",
        "response_status",
        "duration_ms",
        "url",
        "event_id",
    ]
    list_filter = [
        "status",
        EventTypeFilter,
        "webhook",
        "webhook__api_key",
        ("created_at", admin.DateFieldListFilter),
    ]
    ordering = ["-created_at", "-id"]
    search_fields = ["event__id"]
    search_help_text = _("Search by event id (evt_…).")
    show_full_result_count = False
    actions = ["redeliver_selected"]
    change_form_template = "django_webhooks/admin/deliveryattempt_change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "event_id",
                    "event_type",
                    "webhook",
                    "url",
                    "number",
                    "trigger",
                    "status_display",
                    "scheduled_for",
                    "started_at",
                    "finished_at",
                    "duration_ms",
                ]
            },
        ),
        (_("Request"), {"fields": ["request_headers_display", "body_display"]}),
        (_("Response"), {"fields": ["response_status", "error", "response_excerpt_display"]}),
    ]
    readonly_fields = [
        "event_id",
        "event_type",
        "webhook",
        "url",
        "number",
        "trigger",
        "status_display",
        "scheduled_for",
        "started_at",
        "finished_at",
        "duration_ms",
        "request_headers_display",
        "body_display",
        "response_status",
        "error",
        "response_excerpt_display",
    ]

    class Media:
        css = ADMIN_CSS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: DeliveryAttempt | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: DeliveryAttempt | None = None
    ) -> bool:
        return False  # the log is pruned by `manage.py webhooks_prune`, never edited

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{Webhook._meta.app_label}.change_webhook")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[DeliveryAttempt], search_term: str
    ) -> tuple[QuerySet[DeliveryAttempt], bool]:
        # An exact event id: uses the index, where a LIKE over the whole log would not.
        term = search_term.strip()
        if not term:
            return queryset, False
        if term[:4].lower() == "evt_":
            term = "evt_" + term[4:].upper()
        return queryset.filter(event_id=term), False

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, attempt: DeliveryAttempt) -> str:
        return status_badge(attempt.status)

    @admin.display(description=_("attempt"), ordering="number")
    def attempt_display(self, attempt: DeliveryAttempt) -> str:
        return format_html("{} <small>({})</small>", attempt.number, attempt.get_trigger_display())

    @admin.display(description=_("request headers"))
    def request_headers_display(self, attempt: DeliveryAttempt) -> str:
        if attempt.request_headers is None:
            return gettext("Not sent yet.")
        # Stored with the signature cut short: it is never kept in full.
        return preformatted(json.dumps(attempt.request_headers, indent=2, ensure_ascii=False))

    @admin.display(description=_("body"))
    def body_display(self, attempt: DeliveryAttempt) -> str:
        body = sent_body(attempt)
        if body is None:
            return gettext("The event has no payload (its order was gone when it was sent).")
        return preformatted(body)

    @admin.display(description=_("response excerpt"))
    def response_excerpt_display(self, attempt: DeliveryAttempt) -> str:
        return preformatted(attempt.response_excerpt) if attempt.response_excerpt else "—"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: DeliveryAttempt | None = None,
    ) -> HttpResponse:
        context["can_redeliver"] = self.has_redeliver_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self) -> list[URLPattern]:
        return [
            self._object_url("redeliver", self.redeliver_view, "redeliver"),
            *super().get_urls(),
        ]

    def redeliver_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_redeliver_permission(request):
            raise PermissionDenied
        attempt: DeliveryAttempt = self._get_object_or_404(request, object_id)
        try:
            new = redelivery.redeliver(attempt)
        except DeliveryRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("Redelivering: attempt %(number)d is on its way.") % {"number": new.number},
                messages.SUCCESS,
            )
        event_log = reverse("admin:django_webhooks_deliveryattempt_changelist")
        return HttpResponseRedirect(redirect_target(request, f"{event_log}?q={attempt.event_id}"))

    @admin.action(description=_("Redeliver selected attempts"), permissions=["redeliver"])
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet[DeliveryAttempt]) -> None:
        redelivered = 0
        refusals: list[str] = []
        seen: set[tuple[str, int | None]] = set()
        for attempt in queryset.select_related("webhook", "event").order_by("-id"):
            pair = (attempt.event_id, attempt.webhook_id)
            if pair in seen:
                continue  # one redelivery per event and webhook, however many were ticked
            seen.add(pair)
            try:
                redelivery.redeliver(attempt)
            except DeliveryRefused as refusal:
                refusals.append(f"{attempt.event_id}: {refusal}")
            else:
                redelivered += 1
        self.message_user(
            request,
            ngettext("Redelivering %(count)d event.", "Redelivering %(count)d events.", redelivered)
            % {"count": redelivered},
            messages.SUCCESS if redelivered else messages.INFO,
        )
        for message in refusals[:10]:
            self.message_user(request, message, messages.WARNING)
