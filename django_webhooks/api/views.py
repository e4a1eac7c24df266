"""The third-party API: a key's webhooks, their delivery log, redelivery, its signing secret.

Every view authenticates with an API key and sees only that key's rows: each queryset is
filtered by ``request.auth``, so another key's ids answer 404 exactly like ids that do not
exist.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import DateTimeField, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, NotFound, ParseError, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet, ModelViewSet

from .. import redelivery
from ..exceptions import Conflict, DeliveryRefused
from ..models import ApiKey, DeliveryAttempt, Webhook
from ..validators import validate_webhook_count
from . import schema
from .authentication import ApiKeyAuthentication
from .parsers import BoundedJSONParser
from .permissions import HasApiKey
from .renderers import SafeJSONRenderer
from .schema import extend_schema
from .serializers import (
    DeliveryAttemptFilterSerializer,
    DeliveryAttemptSerializer,
    SigningSecretSerializer,
    TestEventSerializer,
    WebhookSerializer,
)
from .throttling import ApiKeyRateThrottle

if TYPE_CHECKING:
    from rest_framework.generics import GenericAPIView

    # The mixins below are only ever mixed into DRF's views: type them as such.
    _APIView = APIView
    _GenericAPIView = GenericAPIView[Any]
else:
    _APIView = _GenericAPIView = object

CANONICAL_ID = re.compile(r"[1-9][0-9]*")
WEBHOOK_EXAMPLE = OpenApiExample(
    "Orders to accounting",
    value={
        "url": "https://accounting.example.com/hooks/store",
        "events": ["order.created", "order.payment_status_changed"],
        "format": "json",
    },
    request_only=True,
)


def calling_key(request: Request) -> ApiKey | None:
    """The API key the request authenticated with (HasApiKey lets no request without one in)."""
    return request.auth if isinstance(request.auth, ApiKey) else None


class ApiKeyViewMixin(_APIView):
    """What every view of this API shares: key authentication, per-key budget, JSON only."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [SafeJSONRenderer]
    # Set here rather than relying on the store's DEFAULT_SCHEMA_CLASS.
    schema = AutoSchema()

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DeliveryRefused):
            exc = Conflict(str(exc))
        elif isinstance(exc, RequestDataTooBig):
            # Django would answer this 400 with an HTML page; the API speaks JSON.
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            exc = ParseError(
                _("The request body is larger than %(limit)d bytes.") % {"limit": limit}
            )
        return super().handle_exception(exc)


class CanonicalIdMixin(_GenericAPIView):
    """Ids in URLs are plain decimal numbers; anything else answers this API's JSON 404.

    Every path segment reaches the view (a stricter URL pattern would leave the answer to
    the store's HTML 404 page), and spellings the database would still read as a number
    (``+1``, ``01``, `` 1``, Arabic-Indic digits) are refused rather than quietly resolved.
    """

    lookup_value_regex = "[^/]+"

    def get_object(self) -> Any:
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        if not CANONICAL_ID.fullmatch(lookup):
            raise NotFound()
        try:
            return super().get_object()
        except Http404:
            raise NotFound() from None  # not "No Webhook matches the given query."


class DeliveryAttemptPagination(CursorPagination):
    """Newest first; a cursor stays right while new attempts are logged."""

    page_size = 50
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            # DRF trusts the position it decodes; a hand-made one would reach the database.
            try:
                position = DateTimeField().to_python(cursor.position)
            except DjangoValidationError:
                position = None
            if position is None or timezone.is_naive(position):
                raise NotFound(self.invalid_cursor_message)
        return cursor


@extend_schema_view(
    list=extend_schema(
        summary="List this key's webhooks",
        responses=schema.responses({200: WebhookSerializer(many=True)}),
    ),
    create=extend_schema(
        summary="Subscribe an endpoint",
        examples=[WEBHOOK_EXAMPLE],
        responses=schema.responses({201: WebhookSerializer}, 400, 415),
    ),
    retrieve=extend_schema(
        summary="Read a webhook",
        responses=schema.responses({200: WebhookSerializer}, 404),
    ),
    update=extend_schema(
        summary="Replace a webhook",
        examples=[WEBHOOK_EXAMPLE],
        responses=schema.responses({200: WebhookSerializer}, 400, 404, 415),
    ),
    partial_update=extend_schema(
        summary="Change a webhook",
        description="`is_active: false` switches it off and cancels its scheduled attempts; "
        "`is_active: true` switches it back on.",
        responses=schema.responses({200: WebhookSerializer}, 400, 404, 415),
    ),
    destroy=extend_schema(
        summary="Delete a webhook",
        description="Its delivery log stays (with `webhook: null`); scheduled attempts are "
        "cancelled.",
        responses=schema.responses({204: None}, 404),
    ),
)
class WebhookViewSet(ApiKeyViewMixin, CanonicalIdMixin, ModelViewSet):
    """This key's webhooks: the URLs its events are delivered to."""

    serializer_class = WebhookSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Webhook]:
        return Webhook.objects.filter(api_key=calling_key(self.request))

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "api_key": self.request.auth}

    def perform_create(self, serializer: BaseSerializer) -> None:
        with transaction.atomic():
            # Two creations at once take turns on the key, so the cap holds for both.
            ApiKey.objects.select_for_update().filter(pk=self.request.auth.pk).exists()
            try:
                validate_webhook_count(self.request.auth)
            except DjangoValidationError as error:
                raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: error.messages}) from None
            serializer.save(api_key=self.request.auth)

    def get_success_headers(self, data: Any) -> dict[str, str]:
        # DRF would put the serializer's ``url`` here: the destination, not this resource.
        return {"Location": self.request.build_absolute_uri(f"{data['id']}/")}

    def perform_destroy(self, instance: Webhook) -> None:
        with transaction.atomic():
            instance.cancel_scheduled_attempts()
            instance.delete()

    @extend_schema(
        operation_id="webhooks_test",
        summary="Send a test delivery",
        description="Delivers a `webhook.test` event to the webhook's URL, or with "
        '`{"type": "order.created"}` the example body of that catalog type (a new event id), '
        "signed and logged like any delivery. The body is optional.",
        request=TestEventSerializer,
        responses=schema.responses({202: DeliveryAttemptSerializer}, 400, 404, 409, 415),
    )
    @action(detail=True, methods=["post"], serializer_class=DeliveryAttemptSerializer)
    def test(self, request: Request, pk: str | None = None) -> Response:
        webhook = self.get_object()
        chosen = TestEventSerializer(data=request.data if request.data else {})
        chosen.is_valid(raise_exception=True)
        attempt = redelivery.send_test(webhook, chosen.validated_data["type"])
        return Response(DeliveryAttemptSerializer(attempt).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="webhooks_attempts",
        summary="Read a webhook's delivery log",
        description="Newest first, 50 a page; follow `next` for older attempts.",
        parameters=[DeliveryAttemptFilterSerializer],
        responses=schema.responses({200: DeliveryAttemptSerializer(many=True)}, 400, 404),
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=DeliveryAttemptSerializer,
        pagination_class=DeliveryAttemptPagination,
    )
    def attempts(self, request: Request, pk: str | None = None) -> Response:
        webhook = self.get_object()
        # A plain dict: DRF would quietly drop ``?status=`` from a QueryDict instead of refusing it.
        filters = DeliveryAttemptFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        attempts = DeliveryAttempt.objects.filter(webhook=webhook, **filters.validated_data)
        page = self.paginate_queryset(attempts)
        return self.get_paginated_response(DeliveryAttemptSerializer(page, many=True).data)


class DeliveryAttemptViewSet(ApiKeyViewMixin, CanonicalIdMixin, GenericViewSet):
    """Attempts from this key's delivery log."""

    serializer_class = DeliveryAttemptSerializer

    def get_queryset(self) -> QuerySet[DeliveryAttempt]:
        return DeliveryAttempt.objects.filter(
            webhook__api_key=calling_key(self.request)
        ).select_related("webhook", "event")

    @extend_schema(
        operation_id="attempts_redeliver",
        summary="Deliver an attempt's event again",
        description="A new attempt of the same event (same `webhook-id` header) to the "
        "webhook's current URL.",
        request=None,
        responses=schema.responses({202: DeliveryAttemptSerializer}, 404, 409),
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str | None = None) -> Response:
        attempt = self.get_object()
        new_attempt = redelivery.redeliver(attempt)
        return Response(
            DeliveryAttemptSerializer(new_attempt).data, status=status.HTTP_202_ACCEPTED
        )


class SigningSecretRotateView(ApiKeyViewMixin, APIView):
    """The secret that signs this key's deliveries."""

    @extend_schema(
        operation_id="signing_secret_rotate",
        summary="Rotate this key's signing secret",
        description="Returns the new secret, once. Deliveries carry a second signature made "
        "with the previous secret until `previous_secret_expires_at`, so receivers can switch "
        "without losing a delivery.",
        request=None,
        responses=schema.responses({200: SigningSecretSerializer}),
    )
    def post(self, request: Request) -> Response:
        api_key = calling_key(request)
        if api_key is None:
            raise NotAuthenticated
        secret = api_key.rotate_signing_secret()
        data = SigningSecretSerializer(
            {
                "signing_secret": secret,
                "previous_secret_expires_at": api_key.previous_signing_secret_expires_at,
            }
        ).data
        return Response(data, headers={"Cache-Control": "no-store"})


class NotFoundView(APIView):
    """Any path the API does not have: a JSON 404, whoever asks and however."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    renderer_classes = [SafeJSONRenderer]
    schema = None

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        self.args, self.kwargs = args, kwargs
        self.request = self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        response = self.handle_exception(NotFound())
        self.response = self.finalize_response(self.request, response, *args, **kwargs)
        return self.response
