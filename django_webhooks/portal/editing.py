"""Add, change and delete the key's webhooks, validated by the API's own serializer."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext

from ..models import ApiKey, Webhook
from ..validators import validate_webhook_count
from . import rendering, scoping
from .forms import WebhookForm
from .links import Grant
from .session import portal_view


def _saved(form: WebhookForm, grant: Grant) -> Webhook | None:
    """Save what the serializer accepted; None (and a message on the form) if the cap is hit."""
    serializer = form.serializer
    assert serializer is not None
    if form.instance is not None:
        changed: Webhook = serializer.save()
        return changed
    with transaction.atomic():
        # Two creations at once take turns on the key, so the cap holds for both (as the API).
        ApiKey.objects.select_for_update().filter(pk=grant.api_key.pk).exists()
        try:
            validate_webhook_count(grant.api_key)
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
            return None
        created: Webhook = serializer.save(api_key=grant.api_key)
        return created


def _form_page(request: HttpRequest, grant: Grant, webhook: Webhook | None) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = WebhookForm(data, api_key=grant.api_key, instance=webhook)
    if request.method == "POST" and form.is_valid():
        saved = _saved(form, grant)
        if saved is not None:
            text = (
                gettext("The webhook was added.")
                if webhook is None
                else gettext("The webhook was changed.")
            )
            messages.success(request, text, fail_silently=True)
            return HttpResponseRedirect(reverse("webhooks_portal:webhook", args=[saved.pk]))
    context = {"form": form, "webhook": webhook}
    return rendering.render_page(request, grant, "webhook_form.html", context)


@portal_view
def add_webhook(request: HttpRequest, grant: Grant) -> HttpResponse:
    return _form_page(request, grant, None)


@portal_view
def change_webhook(request: HttpRequest, grant: Grant, pk: int) -> HttpResponse:
    return _form_page(request, grant, scoping.webhook_of(grant, pk))


@portal_view
def delete_webhook(request: HttpRequest, grant: Grant, pk: int) -> HttpResponse:
    webhook = scoping.webhook_of(grant, pk)
    if request.method == "POST":
        with transaction.atomic():
            webhook.cancel_scheduled_attempts()
            webhook.delete()
        messages.success(
            request,
            gettext("The webhook %(url)s was deleted; its deliveries stay in the store's log.")
            % {"url": webhook.url},
            fail_silently=True,
        )
        return HttpResponseRedirect(reverse("webhooks_portal:home"))
    return rendering.render_page(request, grant, "webhook_delete.html", {"webhook": webhook})
