"""The API's description of itself and of what it sends: the event catalog and OpenAPI.

``event-types/``: each type with the JSON Schema of its body, an example and its XSD;
``schema/``: the OpenAPI 3.1 document, whose ``webhooks`` are the deliveries themselves.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from drf_spectacular.views import SpectacularAPIView
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import catalog
from . import schema
from .schema import extend_schema
from .serializers import EventTypeSerializer
from .views import ApiKeyViewMixin


class EventTypeListView(ApiKeyViewMixin, APIView):
    """The event catalog: what a webhook can fire on, and what each delivery will hold."""

    @extend_schema(
        operation_id="event_types_list",
        summary="List the event types a webhook can fire on",
        description="Each with the JSON Schema of its whole body, an example body and a link "
        "to its XML Schema: generate a receiver's parser from them.",
        responses=schema.responses({200: EventTypeSerializer(many=True)}),
    )
    def get(self, request: Request) -> Response:
        entries = [
            {
                "type": entry.type,
                "label": entry.label,
                "schema": entry.schema,
                "example": entry.example,
                # Relative to this view's own URL, wherever the store mounted the API.
                "xsd": request.build_absolute_uri(f"{quote(entry.type)}/schema.xsd"),
            }
            for entry in catalog.entries()
        ]
        return Response(EventTypeSerializer(entries, many=True).data)


class EventTypeXsdView(ApiKeyViewMixin, APIView):
    """One event type's XML Schema."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The document is XML whatever the client accepts; errors are this API's JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="event_types_xsd",
        summary="The XML Schema of an event type's XML body",
        description="XSD 1.0: every body a webhook with `format: xml` receives for this type "
        "validates against it.",
        parameters=[
            OpenApiParameter(
                "event_type",
                str,
                OpenApiParameter.PATH,
                description="An event type of the catalog (GET event-types/ lists them).",
            )
        ],
        responses={
            (200, "application/xml"): OpenApiTypes.STR,
            **schema.responses({}, 404),
        },
    )
    def get(self, request: Request, event_type: str) -> HttpResponse:
        document = catalog.xsd(event_type)
        if document is None:
            raise NotFound(_("Unknown event type."))
        return HttpResponse(document, content_type="application/xml; charset=utf-8")


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3.1 document of this API and its webhooks (YAML; ``?format=json``)."""

    authentication_classes = ApiKeyViewMixin.authentication_classes
    permission_classes = ApiKeyViewMixin.permission_classes
    throttle_classes = ApiKeyViewMixin.throttle_classes
    schema = AutoSchema()
    custom_settings: dict[str, Any] = {
        "TITLE": "Webhooks API",
        "DESCRIPTION": "Subscribe endpoints to the store's events, read their delivery log, "
        "redeliver, rotate the signing secret.",
        "VERSION": "1",
        "PREPROCESSING_HOOKS": ["django_webhooks.api.schema.only_this_api"],
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "django_webhooks.api.schema.add_webhooks",
        ],
        # Webhooks and JSON Schema 2020-12 components: this document only, whatever the
        # store's own SPECTACULAR_SETTINGS say.
        "OAS_VERSION": "3.1.0",
    }

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().get(request, *args, **kwargs)
        return response
