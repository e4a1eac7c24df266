"""The pages that show: the key's webhooks with their health, and one webhook's deliveries."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .. import catalog
from . import deliveries, rendering, scoping
from .forms import DeliveryFilterForm, RecoverForm
from .links import Grant
from .session import portal_view


@portal_view
def home(request: HttpRequest, grant: Grant) -> HttpResponse:
    summaries = [rendering.summary(webhook) for webhook in scoping.webhooks_of(grant)]
    return rendering.render_page(request, grant, "home.html", {"summaries": summaries})


@portal_view
def webhook_page(request: HttpRequest, grant: Grant, pk: int) -> HttpResponse:
    webhook = scoping.webhook_of(grant, pk)
    filters = DeliveryFilterForm(request.GET or None)
    page = deliveries.page_of(
        webhook,
        filters.filters(),
        older_than=request.GET.get("older_than"),
        newer_than=request.GET.get("newer_than"),
    )
    context = {
        "summary": rendering.summary(webhook),
        "webhook": webhook,
        "filters": filters,
        "filtered": bool(filters.filters()),
        "page": page,
        "recover_form": RecoverForm(),
        "test_event_types": [(entry.type, entry.label) for entry in catalog.entries()],
    }
    return rendering.render_page(request, grant, "webhook.html", context)
