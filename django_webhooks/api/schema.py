"""How the API describes itself in OpenAPI 3 (drf-spectacular).

* :class:`ApiKeyScheme` documents the ``Authorization: Api-Key <token>`` header.
* :class:`EventTypesFieldExtension` lists the event catalog as the ``events`` enum, read when
  the schema is generated, so types a store registers show up.
* :func:`responses` adds the error answers a call can give to its documented responses.
* :func:`only_this_api` keeps the served schema to this app's endpoints, whatever else the
  store mounts; :func:`add_webhooks` adds the deliveries as OpenAPI 3.1 ``webhooks``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.utils import extend_schema as spectacular_extend_schema

from .. import events
from .authentication import KEYWORD
from .serializers import ErrorSerializer

API_MODULE_PREFIX = __name__.rpartition(".")[0] + "."

VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Messages keyed by field (or `detail` when the body is not usable JSON); "
    "`headers` has its messages keyed by header name.",
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        ]
    },
}

ERROR_RESPONSES: dict[int, OpenApiResponse] = {
    400: OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="Invalid input; nothing written."),
    401: OpenApiResponse(ErrorSerializer, description="No valid, unrevoked, unexpired API key."),
    404: OpenApiResponse(ErrorSerializer, description="Not found among this key's resources."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible in the current state."),
    415: OpenApiResponse(ErrorSerializer, description="Send the body as application/json."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests for this key."),
}


def extend_schema(**kwargs: Any) -> Any:
    """drf-spectacular's ``extend_schema``, built on its own AutoSchema.

    Left alone, it builds on ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``, which is DRF's own
    schema in a store that never set it: ``/api/schema/`` then answered 500.
    """
    decorate = spectacular_extend_schema(**kwargs)

    def decorator(view_method: Any) -> Any:
        if getattr(view_method, "schema", None) is None:
            view_method.schema = AutoSchema
        return decorate(view_method)

    return decorator


def responses(success: dict[int, Any], *errors: int) -> dict[int, Any]:
    """``success`` plus the given error answers, and the two any call can get: 401, 429."""
    return {**success, **{code: ERROR_RESPONSES[code] for code in sorted({*errors, 401, 429})}}


def only_this_api(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """A drf-spectacular preprocessing hook: drop the store's own views."""
    return [
        endpoint
        for endpoint in endpoints
        if getattr(endpoint[3], "cls", None) is not None
        and endpoint[3].cls.__module__.startswith(API_MODULE_PREFIX)
    ]


def add_webhooks(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: what destinations receive, as ``webhooks``."""
    from ..catalog.openapi import add_webhooks as add

    return add(result)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "django_webhooks.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"`{KEYWORD} <token>`: a key created in the store's admin "
            "(Settings, API keys) or with `manage.py webhooks_create_key`.",
        }


class CustomHeadersFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "django_webhooks.api.serializers.CustomHeadersField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        from drf_spectacular.plumbing import is_jsonschema_compliant

        value: dict[str, Any] = (
            {"type": ["string", "null"]}  # OpenAPI 3.1 (our document)
            if is_jsonschema_compliant()
            else {"type": "string", "nullable": True}
        )
        return {
            "type": "object",
            "additionalProperties": value,
            "maxProperties": 20,
            "description": str(self.target.help_text or ""),
        }


class EventTypesFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "django_webhooks.api.serializers.EventTypesField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "string",
                "enum": [event_type.type for event_type in events.get_event_types()],
            },
            "description": str(self.target.help_text or ""),
        }
