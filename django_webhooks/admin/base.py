"""What the Settings section's admin pages share: badges, small POST views, breadcrumbs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import django
from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext

from ..fields import is_secret
from ..models import DeliveryAttempt

Status = DeliveryAttempt.Status

if TYPE_CHECKING:
    # ObjectViewsMixin is only ever mixed into a ModelAdmin: type it as one.
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object

ADMIN_CSS = {"all": ["django_webhooks/admin.css"]}
#: Django 6.1's admin writes breadcrumbs as a list; our own pages follow the admin's markup.
BREADCRUMBS_AS_LIST = django.VERSION >= (6, 1)


def status_badge(status: str) -> str:
    return format_html(
        '<span class="dw-badge dw-badge--{}">{}</span>', status, Status(status).label
    )


def preformatted(text: str) -> str:
    return format_html('<pre class="dw-pre">{}</pre>', text)


def redirect_target(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def touches_a_secret(model: Any, lookup: str) -> bool:
    """Whether ``lookup`` (``a__b__c__op``) passes through a secret field on its way."""
    for part in lookup.split(LOOKUP_SEP):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if is_secret(field):
            return True
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


class SecretLookupsRefusedMixin(BaseModelAdmin):
    """Change lists answer 400 to a query-string filter that looks into a secret column.

    Django allows lookups on a model's own fields whatever ``list_filter`` says; on a secret
    that is an oracle a view-only user can read it through (see :mod:`django_webhooks.fields`).
    """

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if touches_a_secret(self.model, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)


class ObjectViewsMixin(SecretLookupsRefusedMixin, _ModelAdmin):
    """Small POST views on one object, behind the admin's login and CSRF protection."""

    def _object_url(
        self, name: str, view: Callable[..., HttpResponseBase], suffix: str
    ) -> URLPattern:
        opts = self.model._meta
        return path(
            f"<path:object_id>/{suffix}/",
            self.admin_site.admin_view(view),
            name=f"{opts.app_label}_{opts.model_name}_{name}",
        )

    def _get_object_or_404(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(
                gettext("%(name)s with ID “%(key)s” does not exist.")
                % {"name": self.model._meta.verbose_name, "key": object_id}
            )
        return obj

    def _page_context(
        self, request: HttpRequest, title: str, *crumbs: tuple[str, str]
    ) -> dict[str, Any]:
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

    def _change_url(self, obj: Model) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])

    def _confirm(
        self,
        request: HttpRequest,
        obj: Model,
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
