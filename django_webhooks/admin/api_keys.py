"""API keys: a token shown once, a signing secret shown once, rotation and revocation.

Secrets: an API key's token and signing secret appear in exactly one response, the one that
created them (or rotated the secret), rendered directly rather than passed through the
messages framework, so they are never stored in a cookie or a session on the way.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.crypto import salted_hmac
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import tokens
from ..conf import webhook_settings
from ..models import ApiKey, ApiKeyQuerySet
from ..portal import links as portal_links
from .base import ADMIN_CSS, ObjectViewsMixin
from .forms import StoredJSONField


@admin.register(ApiKey)
class ApiKeyAdmin(ObjectViewsMixin, admin.ModelAdmin):
    list_display = ["name", "prefix", "created", "last_used_at", "expiry_date", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "revoked", "signing_secret_state", "created", "last_used_at"]
    actions = ["revoke_selected"]
    change_form_template = "django_webhooks/admin/apikey_change_form.html"
    formfield_overrides = {models.JSONField: {"form_class": StoredJSONField}}

    class Media:
        css = ADMIN_CSS

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "expiry_date")
        return (
            "name",
            "prefix",
            "expiry_date",
            "scope",
            "revoked",
            "signing_secret_state",
            "created",
            "last_used_at",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is not None and obj.revoked:
            return [*self.readonly_fields, "name", "expiry_date"]
        return list(self.readonly_fields)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        portal = webhook_settings.PORTAL and portal_links.is_mounted()
        extra_context = {**(extra_context or {}), "portal_enabled": portal}
        return super().change_view(request, object_id, form_url, extra_context)

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

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            token, obj.prefix, obj.hashed_key = tokens.generate()
            obj._one_time_token = token  # type: ignore[attr-defined]  # for response_add only
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
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

    def get_urls(self) -> list[URLPattern]:
        return [
            self._object_url("rotate", self.rotate_view, "rotate-signing-secret"),
            self._object_url("revoke", self.revoke_view, "revoke"),
            self._object_url("portal_link", self.portal_link_view, "portal-link"),
            *super().get_urls(),
        ]

    def _key_to_change(self, request: HttpRequest, object_id: str) -> ApiKey:
        api_key: ApiKey = self._get_object_or_404(request, object_id)
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
        self._revoke(request, ApiKey.objects.filter(pk=api_key.pk))
        self.message_user(
            request, gettext("The API key “%(name)s” was revoked.") % {"name": api_key}
        )
        return HttpResponseRedirect(self._change_url(api_key))

    def portal_link_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """Make a consumer portal link for the key (a bearer credential: change permission)."""
        api_key = self._key_to_change(request, object_id)
        if not webhook_settings.PORTAL:
            raise Http404(gettext("The portal is switched off (WEBHOOKS['PORTAL'])."))
        title = gettext("Portal link for “%(name)s”") % {"name": api_key}
        context: dict[str, Any] = {
            **self._page_context(
                request, title, (self._change_url(api_key), api_key.name), ("", title)
            ),
            "object": api_key,
            "max_hours": webhook_settings.PORTAL_LINK_MAX_HOURS,
            "hours": portal_links.DEFAULT_HOURS,
            "media": self.media,
        }
        if request.method == "POST":
            try:
                hours = int(request.POST.get("hours", ""))
                token, expires_at = portal_links.issue(api_key, hours)
                path = portal_links.link_path(token)
            except (ValueError, portal_links.PortalNotMounted) as error:
                context["error"] = (
                    gettext("Add the portal to the URLconf first.")
                    if isinstance(error, portal_links.PortalNotMounted)
                    else portal_links.hours_message()
                )
            else:
                base_url = webhook_settings.PORTAL_BASE_URL
                context.update(
                    hours=hours,
                    link=base_url + path if base_url else request.build_absolute_uri(path),
                    expires_at=expires_at,
                )
                self.log_change(
                    request,
                    api_key,
                    gettext("Made a portal link, valid until %(until)s.")
                    % {"until": expires_at.isoformat()},
                )
        response = TemplateResponse(
            request, "django_webhooks/admin/apikey_portal_link.html", context
        )
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True)
        return response

    def _revoke(self, request: HttpRequest, queryset: ApiKeyQuerySet) -> list[ApiKey]:
        api_keys = queryset.revoke()
        for api_key in api_keys:
            self.log_change(request, api_key, gettext("Revoked."))
        return api_keys

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: ApiKeyQuerySet) -> None:
        api_keys = self._revoke(request, queryset)
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
