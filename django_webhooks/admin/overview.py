"""The Settings section's overview: the store's deliveries at a glance, for its owner.

The change list of a proxy model (``models.Overview``) is the page; there is nothing to add,
change or delete. Whoever may read the delivery log may read the overview.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import router
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext

from ..display import hourly_chart
from ..models import DeliveryAttempt, Overview
from ..observability.overview import overview
from .base import ADMIN_CSS, BREADCRUMBS_AS_LIST


@admin.register(Overview)
class OverviewAdmin(admin.ModelAdmin):
    class Media:
        css = ADMIN_CSS

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        opts = DeliveryAttempt._meta
        return super().has_view_permission(request, obj) or request.user.has_perm(
            f"{opts.app_label}.view_{opts.model_name}"
        )

    def get_urls(self) -> list[URLPattern]:
        # The page only: a proxy of Webhook must not grow a second set of webhook pages.
        opts = self.model._meta
        view = self.admin_site.admin_view(self.changelist_view)
        return [path("", view, name=f"{opts.app_label}_{opts.model_name}_changelist")]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        opts = self.model._meta
        figures = overview(router.db_for_read(DeliveryAttempt))
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "title": gettext("Overview"),
            "breadcrumbs_as_list": BREADCRUMBS_AS_LIST,
            "crumbs": [
                {"url": reverse("admin:index"), "label": gettext("Home")},
                {
                    "url": reverse("admin:app_list", kwargs={"app_label": opts.app_label}),
                    "label": opts.app_config.verbose_name,
                },
                {"url": "", "label": gettext("Overview")},
            ],
            "overview": figures,
            "health": figures.health,
            "chart": hourly_chart(figures.health),
            "oldest_due_seconds": figures.backlog.age(figures.backlog.oldest_due),
            "media": self.media,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "django_webhooks/admin/overview.html", context)
