"""The demo receiver: an endpoint that stores what it gets and checks each signature.

It stands in for a third party's system. It verifies with the ``standardwebhooks`` package,
exactly as a receiver in another language or company would, against the signing secrets of
the store's API keys (a real receiver knows only its own).
"""

import json

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from django_webhooks.models import ApiKey

from .models import ReceivedWebhook

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def verify(body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
    error = "no API key's secret matches"
    for api_key in ApiKey.objects.all():
        for secret in api_key.active_signing_secrets():
            try:
                # Verify only: the body may be XML, which the library would try to parse.
                StandardWebhook(secret).verify(body, headers, json_parse=False)
            except WebhookVerificationError as exc:
                error = str(exc)
            else:
                return True, ""
    return False, error


@csrf_exempt
@require_http_methods(["GET", "POST"])
def demo_receiver(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        # What was received is the store's customer data: for its staff only.
        return _show_received(request)
    return _receive(request)


@staff_member_required
def _show_received(request: HttpRequest) -> HttpResponse:
    if request.GET.get("format") == "json":
        rows = ReceivedWebhook.objects.values(
            "id", "received_at", "event_id", "event_type", "attempt", "verified"
        )[:100]
        return JsonResponse({"results": list(rows)})
    return render(
        request,
        "shop/demo_receiver.html",
        {"received": ReceivedWebhook.objects.all()[:50]},
    )


def _receive(request: HttpRequest) -> HttpResponse:
    # ?status=500 lets a demo show retries; no ?status answers 200.
    try:
        status = int(request.GET.get("status", "200"))
    except ValueError:
        status = 0
    if not 200 <= status <= 599:
        return HttpResponse("?status must be an HTTP status code, 200-599.", status=400)
    headers = {name: request.headers.get(name, "") for name in SIGNATURE_HEADERS}
    verified, error = verify(request.body, headers)
    body = request.body.decode("utf-8", "replace")
    ReceivedWebhook.objects.create(
        event_id=headers["webhook-id"],
        event_type=request.headers.get("X-Webhook-Event", ""),
        attempt=request.headers.get("X-Webhook-Attempt", ""),
        content_type=request.headers.get("Content-Type", ""),
        headers={**headers, "webhook-signature": headers["webhook-signature"][:12] + "…"},
        body=_pretty(body),
        verified=verified,
        verification_error=error[:200],
    )
    return HttpResponse("ok" if status == 200 else "not today", status=status)


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body
