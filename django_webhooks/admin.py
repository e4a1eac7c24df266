"""The Settings section of the admin: API keys, webhooks and the delivery log.

Secrets: an API key's token and signing secret appear in exactly one response, the one that
created them (or rotated the secret), rendered directly rather than passed through the
messages framework, so they are never stored in a cookie or a session on the way.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

import django
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import events, outbox, tokens
from .conf import webhook_settings
from .delivery import render_body
from .forms import RecoverFailedForm, WebhookForm
from .health import Health, webhook_health
from .models import ApiKey, DeliveryAttempt, Webhook

Status = DeliveryAttempt.Status

RECENT_ATTEMPTS = 20
HEALTH_HOURS = 24
CHART_BAR_WIDTH = 10
CHART_BAR_GAP = 2
CHART_HEIGHT = 48

ADMIN_CSS = {"all": ["django_webhooks/admin.css"]}
#: Django 6.1's admin writes breadcrumbs as a list; our own pages follow the admin's markup.
BREADCRUMBS_AS_LIST = django.VERSION >= (6, 1)


def status_badge(status: str) -> str:
    return format_html(
        '<span class="dw-badge dw-badge--{}">{}</span>', status, Status(status).label
    )


def _pre(text: str) -> str:
    return format_html('<pre class="dw-pre">{}</pre>', text)


def _redirect_target(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


class _ObjectViewsMixin:
    """Small POST views on one object, behind the admin's login and CSRF protection."""

    def _object_url(self, name: str, view, suffix: str):
        opts = self.model._meta
        return path(
            f"<path:object_id>/{suffix}/",
            self.admin_site.admin_view(view),
            name=f"{opts.app_label}_{opts.model_name}_{name}",
        )

    def _get_object_or_404(self, request: HttpRequest, object_id: str):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(
                gettext("%(name)s with ID “%(key)s” does not exist.")
                % {"name": self.model._meta.verbose_name, "key": object_id}
            )
        return obj

    def _page_context(self, request: HttpRequest, title: str, *crumbs: tuple[str, str]) -> dict:
        """What the section's own pages need: the admin's context and breadcrumbs down to
        this model's list, then ``crumbs`` as ``(url, label)``; an empty url: no link."""
        opts = self.model._meta
        return {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": title,
            "breadcrumbs_as_list": BREADCRUMBS_AS_LIST,
            "crumbs": [
                {"url": reverse("admin:index"), "label": gettext("Home")},
                {
                    "url": reverse("admin:app_list", kwargs={"app_label": opts.app_label}),
                    "label": opts.app_config.verbose_name,
                },
                {
                    "url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
                    "label": capfirst(opts.verbose_name_plural),
                },
                *({"url": url, "label": label} for url, label in crumbs),
            ],
        }

    def _change_url(self, obj) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])

    def _confirm(
        self,
        request: HttpRequest,
        obj,
        *,
        title: str,
        question: str,
        details: str,
        button: str,
        hidden: dict[str, str] | None = None,
    ) -> TemplateResponse:
        context = {
            **self._page_context(request, title, (self._change_url(obj), str(obj)), ("", question)),
            "object": obj,
            "hidden": hidden or {},
            "question": question,
            "details": details,
            "button": button,
            "cancel_url": self._change_url(obj),
        }
        return TemplateResponse(request, "django_webhooks/admin/confirm.html", context)


# --- API keys -------------------------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(_ObjectViewsMixin, admin.ModelAdmin):
    list_display = ["name", "prefix", "created", "last_used_at", "expiry_date", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "revoked", "signing_secret_state", "created", "last_used_at"]
    actions = ["revoke_selected"]
    change_form_template = "django_webhooks/admin/apikey_change_form.html"

    class Media:
        css = ADMIN_CSS

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["name", "expiry_date"]
        return [
            "name",
            "prefix",
            "expiry_date",
            "revoked",
            "signing_secret_state",
            "created",
            "last_used_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is not None and obj.revoked:
            return [*self.readonly_fields, "name", "expiry_date"]
        return list(self.readonly_fields)

    @admin.display(description=_("Signing secret"))
    def signing_secret_state(self, api_key: ApiKey) -> str:
        # Never the secret itself: it was shown once, when created or rotated.
        state = gettext("Hidden: it is shown only once, when the key is created or rotated.")
        previous = api_key.active_signing_secrets()[1:]
        if previous:
            until = timezone.localtime(api_key.previous_signing_secret_expires_at)
            state += " " + gettext(
                "Until %(until)s, the previous secret also signs every delivery."
            ) % {"until": date_format(until, "DATETIME_FORMAT")}
        return state

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if not change:
            token, obj.prefix, obj.hashed_key = tokens.generate()
            obj._one_time_token = token
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue=None):
        token = getattr(obj, "_one_time_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        # Even in a popup: closing it at once would lose the token for good.
        return self._secrets_page(
            request,
            obj,
            title=gettext("API key “%(name)s” added") % {"name": obj.name},
            token=token,
        )

    def _secrets_page(
        self, request: HttpRequest, api_key: ApiKey, *, title: str, token: str | None = None
    ) -> TemplateResponse:
        context = {
            **self._page_context(
                request, title, (self._change_url(api_key), api_key.name), ("", title)
            ),
            "object": api_key,
            "token": token,
            "signing_secret": api_key.signing_secret,
            "previous_expires_at": (
                api_key.previous_signing_secret_expires_at if token is None else None
            ),
            "continue_url": self._change_url(api_key),
        }
        return TemplateResponse(request, "django_webhooks/admin/apikey_secrets.html", context)

    def get_urls(self):
        return [
            self._object_url("rotate", self.rotate_view, "rotate-signing-secret"),
            self._object_url("revoke", self.revoke_view, "revoke"),
            *super().get_urls(),
        ]

    def _key_to_change(self, request: HttpRequest, object_id: str) -> ApiKey:
        api_key = self._get_object_or_404(request, object_id)
        if not self.has_change_permission(request, api_key) or api_key.revoked:
            raise PermissionDenied
        return api_key

    def rotate_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        api_key = self._key_to_change(request, object_id)
        if request.method != "POST":
            return self._confirm(
                request,
                api_key,
                title=gettext("Rotate the signing secret of “%(name)s”?") % {"name": api_key},
                question=gettext("Rotate the signing secret?"),
                details=gettext(
                    "A new secret signs every delivery from now on. The current one keeps "
                    "signing too, for %(hours)g hours, so the receiver can switch over."
                )
                % {"hours": _grace_hours()},
                button=gettext("Rotate signing secret"),
                hidden={"rotating": _secret_version(api_key)},
            )
        if request.POST.get("rotating") != _secret_version(api_key):
            # A resubmitted form (a reload of the page showing the new secret) would rotate
            # again and drop the secret the receiver still uses before its grace period ends.
            self.message_user(
                request,
                gettext("The signing secret was rotated meanwhile; nothing was changed."),
                messages.WARNING,
            )
            return HttpResponseRedirect(self._change_url(api_key))
        api_key.rotate_signing_secret()
        self.log_change(request, api_key, gettext("Rotated the signing secret."))
        return self._secrets_page(
            request,
            api_key,
            title=gettext("New signing secret of “%(name)s”") % {"name": api_key},
        )

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        api_key = self._key_to_change(request, object_id)
        if request.method != "POST":
            return self._confirm(
                request,
                api_key,
                title=gettext("Revoke “%(name)s”?") % {"name": api_key},
                question=gettext("Revoke this API key?"),
                details=gettext(
                    "It can no longer call the API and its webhooks get nothing more. "
                    "This cannot be undone."
                ),
                button=gettext("Revoke"),
            )
        self._revoke(request, [api_key])
        self.message_user(
            request, gettext("The API key “%(name)s” was revoked.") % {"name": api_key}
        )
        return HttpResponseRedirect(self._change_url(api_key))

    def _revoke(self, request: HttpRequest, api_keys: list[ApiKey]) -> None:
        ApiKey.objects.filter(pk__in=[key.pk for key in api_keys]).update(revoked=True)
        for api_key in api_keys:
            self.log_change(request, api_key, gettext("Revoked."))

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        api_keys = list(queryset.filter(revoked=False))
        self._revoke(request, api_keys)
        self.message_user(
            request,
            ngettext("Revoked %(count)d API key.", "Revoked %(count)d API keys.", len(api_keys))
            % {"count": len(api_keys)},
        )


def _secret_version(api_key: ApiKey) -> str:
    """Names the current signing secret without revealing it (keyed with SECRET_KEY)."""
    return salted_hmac(
        "django_webhooks.rotate", api_key.signing_secret, algorithm="sha256"
    ).hexdigest()[:20]


def _grace_hours() -> float:
    return webhook_settings.SIGNING_SECRET_GRACE_HOURS


# --- webhooks -------------------------------------------------------------------------------


@admin.register(Webhook)
class WebhookAdmin(_ObjectViewsMixin, admin.ModelAdmin):
    form = WebhookForm
    change_form_template = "django_webhooks/admin/webhook_change_form.html"
    list_display = ["url", "api_key", "fired_on", "is_active", "last_delivery"]
    list_filter = ["is_active", "format", "api_key"]
    search_fields = ["url"]
    list_select_related = ["api_key"]
    readonly_fields = ["deactivated_reason", "created_at", "updated_at"]
    actions = ["activate", "deactivate", "send_test", "recover_failed"]

    class Media:
        css = ADMIN_CSS

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

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
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
        if webhook.last_response_status:
            return format_html("{} HTTP {}", status_badge(status), webhook.last_response_status)
        return status_badge(status)

    # The webhook page: health, recent attempts, buttons.

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add=False, change=False, **kwargs
    ):
        webhook = kwargs.get("obj")
        if webhook is not None:
            health = webhook_health(webhook, hours=HEALTH_HOURS)
            context.update(
                health=health,
                success_percent=(
                    None if health.success_rate is None else 100 * health.success_rate
                ),
                chart=_chart(health),
                recent_attempts=list(
                    webhook.attempts.order_by("-created_at", "-id")[:RECENT_ATTEMPTS]
                ),
                can_deliver=self.has_change_permission(request, webhook),
            )
        return super().render_change_form(request, context, add, change, **kwargs)

    def get_urls(self):
        return [
            self._object_url("send_test", self.send_test_view, "send-test"),
            self._object_url("reactivate", self.reactivate_view, "reactivate"),
            *super().get_urls(),
        ]

    def _webhook_to_change(self, request: HttpRequest, object_id: str) -> Webhook:
        webhook = self._get_object_or_404(request, object_id)
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        return webhook

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self._webhook_to_change(request, object_id)
        try:
            outbox.send_test(webhook)
        except outbox.DeliveryRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        else:
            self.message_user(request, gettext("A test event is on its way."), messages.SUCCESS)
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

    def _activate(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> int:
        switched_on = list(queryset.filter(is_active=False))
        Webhook.objects.filter(pk__in=[webhook.pk for webhook in switched_on]).update(
            is_active=True, deactivated_reason="", updated_at=timezone.now()
        )
        for webhook in switched_on:
            self.log_change(request, webhook, gettext("Activated."))
        return len(switched_on)

    @admin.action(description=_("Activate selected webhooks"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
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
                outbox.send_test(webhook)
            except outbox.DeliveryRefused:
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
            failed = outbox.failed_deliveries(
                webhooks,
                form.cleaned_data["since"],
                event_types=form.cleaned_data["event_types"],
            )
            scheduled = outbox.recover_failed(failed)
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
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "django_webhooks/admin/recover_failed.html", context)


def _chart(health: Health) -> dict[str, Any]:
    """Geometry of the hourly bar chart: successes at the bottom, failures stacked on top."""
    tallest = max((hour.total for hour in health.hours), default=0) or 1
    bars = []
    for index, hour in enumerate(health.hours):
        succeeded = _bar_height(hour.succeeded, tallest)
        failed = _bar_height(hour.failed, tallest)
        bars.append(
            {
                "hour": hour,
                "x": index * (CHART_BAR_WIDTH + CHART_BAR_GAP),
                "succeeded_y": CHART_HEIGHT - succeeded,
                "succeeded_height": succeeded,
                "failed_y": CHART_HEIGHT - succeeded - failed,
                "failed_height": failed,
            }
        )
    return {
        "bars": bars,
        "width": len(bars) * (CHART_BAR_WIDTH + CHART_BAR_GAP) - CHART_BAR_GAP,
        "height": CHART_HEIGHT,
        "bar_width": CHART_BAR_WIDTH,
        "tallest": tallest,
    }


def _bar_height(count: int, tallest: int) -> int:
    if not count:
        return 0
    return max(1, round(CHART_HEIGHT * count / tallest))  # a single failure stays visible


# --- the delivery log -----------------------------------------------------------------------


class EventTypeFilter(admin.SimpleListFilter):
    """The catalog's types, so the filter costs no scan of the log."""

    title = _("event type")
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin):
        return events.choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet):
        if self.value():
            return queryset.filter(event_type=self.value())
        return queryset


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(_ObjectViewsMixin, admin.ModelAdmin):
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

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the log is pruned by `manage.py webhooks_prune`, never edited

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{Webhook._meta.app_label}.change_webhook")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
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
        return _pre(json.dumps(attempt.request_headers, indent=2, ensure_ascii=False))

    @admin.display(description=_("body"))
    def body_display(self, attempt: DeliveryAttempt) -> str:
        event = attempt.event
        if event.data is None:
            return gettext("The event has no payload (its order was gone when it was sent).")
        body = render_body(event, _format_of(attempt), attempt.object_override)
        return _pre(_indented(body, _format_of(attempt)))

    @admin.display(description=_("response excerpt"))
    def response_excerpt_display(self, attempt: DeliveryAttempt) -> str:
        return _pre(attempt.response_excerpt) if attempt.response_excerpt else "—"

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add=False, change=False, **kwargs
    ):
        context["can_redeliver"] = self.has_redeliver_permission(request)
        return super().render_change_form(request, context, add, change, **kwargs)

    def get_urls(self):
        return [
            self._object_url("redeliver", self.redeliver_view, "redeliver"),
            *super().get_urls(),
        ]

    def redeliver_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_redeliver_permission(request):
            raise PermissionDenied
        attempt = self._get_object_or_404(request, object_id)
        try:
            new = outbox.redeliver(attempt)
        except outbox.DeliveryRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("Redelivering: attempt %(number)d is on its way.") % {"number": new.number},
                messages.SUCCESS,
            )
        event_log = reverse("admin:django_webhooks_deliveryattempt_changelist")
        return HttpResponseRedirect(_redirect_target(request, f"{event_log}?q={attempt.event_id}"))

    @admin.action(description=_("Redeliver selected attempts"), permissions=["redeliver"])
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        redelivered, refusals = 0, []
        seen: set[tuple[str, int | None]] = set()
        for attempt in queryset.select_related("webhook", "event").order_by("-id"):
            pair = (attempt.event_id, attempt.webhook_id)
            if pair in seen:
                continue  # one redelivery per event and webhook, however many were ticked
            seen.add(pair)
            try:
                outbox.redeliver(attempt)
            except outbox.DeliveryRefused as refusal:
                refusals.append(f"{attempt.event_id}: {refusal}")
            else:
                redelivered += 1
        self.message_user(
            request,
            ngettext("Redelivering %(count)d event.", "Redelivering %(count)d events.", redelivered)
            % {"count": redelivered},
            messages.SUCCESS if redelivered else messages.INFO,
        )
        for refusal in refusals[:10]:
            self.message_user(request, refusal, messages.WARNING)


def _format_of(attempt: DeliveryAttempt) -> str:
    """The format it was sent in (the webhook's may have changed since)."""
    content_type = (attempt.request_headers or {}).get("Content-Type", "")
    if content_type:
        return "xml" if "xml" in content_type else "json"
    return attempt.webhook.format if attempt.webhook else "json"


def _indented(body: bytes, fmt: str) -> str:
    """Easier to read than the compact bytes on the wire; the same content."""
    if fmt == "xml":
        element = ElementTree.fromstring(body)
        ElementTree.indent(element)
        return ElementTree.tostring(element, encoding="unicode")
    return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
