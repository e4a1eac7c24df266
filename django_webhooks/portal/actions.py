"""The portal's buttons: redeliver, send a test event (of any type of the catalog: its example
payload), recover what failed, switch on and off.

Each is a POST (CSRF-checked by :func:`.session.portal_view`) on a row found through the
session's key, answered with a redirect to the page it came from and a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from .. import events, redelivery
from ..exceptions import DeliveryRefused, UnknownEventType
from ..models import Webhook
from . import scoping
from .forms import RecoverForm
from .links import Grant
from .session import portal_view


def _say(request: HttpRequest, level: int, text: str) -> None:
    messages.add_message(request, level, text, fail_silently=True)


def _back_to(webhook: Webhook, fragment: str = "") -> HttpResponseRedirect:
    url = reverse("webhooks_portal:webhook", args=[webhook.pk])
    return HttpResponseRedirect(f"{url}#{fragment}" if fragment else url)


@portal_view
@require_POST
def redeliver(request: HttpRequest, grant: Grant, pk: int) -> HttpResponse:
    attempt = scoping.attempt_of(grant, pk)
    try:
        new = redelivery.redeliver(attempt)
    except DeliveryRefused as refusal:
        _say(request, messages.ERROR, str(refusal))
    else:
        _say(
            request,
            messages.SUCCESS,
            gettext("Redelivering %(event)s: attempt %(number)d is on its way.")
            % {"event": attempt.event_id, "number": new.number},
        )
    if attempt.webhook is None:  # attempt_of found it through its webhook: never None
        return HttpResponseRedirect(reverse("webhooks_portal:home"))
    url = reverse("webhooks_portal:webhook", args=[attempt.webhook.pk])
    return HttpResponseRedirect(f"{url}?event_id={attempt.event_id}#deliveries")


@portal_view
@require_POST
def send_test(request: HttpRequest, grant: Grant, pk: int) -> HttpResponse:
    webhook = scoping.webhook_of(grant, pk)
    event_type = request.POST.get("type") or events.WEBHOOK_TEST
    try:
        redelivery.send_test(webhook, event_type)
    except DeliveryRefused as refusal:
        _say(request, messages.ERROR, str(refusal))
    except UnknownEventType:
        _say(
            request,
            messages.ERROR,
            gettext("Unknown event type %(type)r.") % {"type": event_type[:100]},
        )
    else:
        _say(
            request,
            messages.SUCCESS,
            gettext("A test event (%(type)s) is on its way.") % {"type": event_type},
        )
    return _back_to(webhook, "deliveries")


@portal_view
@require_POST
def recover(request: HttpRequest, grant: Grant, pk: int) -> HttpResponse:
    webhook = scoping.webhook_of(grant, pk)
    form = RecoverForm(request.POST)
    if not form.is_valid():
        for problems in form.errors.values():
            for problem in problems:
                _say(request, messages.ERROR, str(problem))
        return _back_to(webhook, "recover")
    if not webhook.is_active:
        _say(request, messages.ERROR, gettext("The webhook is inactive; reactivate it first."))
        return _back_to(webhook, "recover")
    failed = redelivery.failed_deliveries([webhook], form.cleaned_data["since"])
    scheduled = redelivery.recover_failed(failed)
    _say(
        request,
        messages.SUCCESS if scheduled else messages.INFO,
        ngettext(
            "Sending %(count)d failed delivery again.",
            "Sending %(count)d failed deliveries again.",
            scheduled,
        )
        % {"count": scheduled},
    )
    return _back_to(webhook, "deliveries")


@portal_view
@require_POST
def reactivate(request: HttpRequest, grant: Grant, pk: int) -> HttpResponse:
    webhook = scoping.webhook_of(grant, pk)
    webhook.activate()
    _say(
        request,
        messages.SUCCESS,
        gettext(
            "The webhook is active again. What failed meanwhile can be sent again with "
            "“Recover failed since…”."
        ),
    )
    return _back_to(webhook)


@portal_view
@require_POST
def deactivate(request: HttpRequest, grant: Grant, pk: int) -> HttpResponse:
    webhook = scoping.webhook_of(grant, pk)
    if webhook.is_active:
        cancelled = webhook.deactivate(gettext("Switched off in the portal."))
        _say(
            request,
            messages.SUCCESS,
            ngettext(
                "The webhook is switched off; %(count)d scheduled delivery was cancelled.",
                "The webhook is switched off; %(count)d scheduled deliveries were cancelled.",
                cancelled,
            )
            % {"count": cancelled},
        )
    return _back_to(webhook)
