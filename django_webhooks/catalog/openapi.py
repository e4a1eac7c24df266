"""The deliveries as OpenAPI 3.1 ``webhooks``: one entry per event type, the POST a destination
receives (headers, JSON and XML body, the answers the store's policy understands).

Each type's body schema becomes a component (``OrderCreatedEvent``), its ``$defs`` other
components beside the API's own (renamed ``…Payload`` where a name is taken by something else).
"""

from __future__ import annotations

from typing import Any

from .. import payloads
from ..conf import webhook_settings
from . import entries
from .mapping import DEFS, rewrite_refs
from .schemas import ENVELOPE_ID, component_name

COMPONENTS = "#/components/schemas/"


def add_webhooks(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with a ``webhooks`` section and the components it refers to."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    taken = set(schemas)
    placed: dict[str, tuple[str, Any]] = {}  # $defs name -> (component name, schema)
    webhooks = {}
    for entry in entries():
        body = dict(entry.schema)
        body.pop("$schema", None)
        defs = body.pop("$defs", {})
        names = {name: _place(name, schema, placed, taken) for name, schema in defs.items()}

        def rename(ref: str, names: dict[str, str] = names) -> str:
            if not ref.startswith(DEFS):
                return ref
            name, slash, rest = ref[len(DEFS) :].partition("/")
            return COMPONENTS + names.get(name, name) + slash + rest

        for name, schema in defs.items():
            schemas[names[name]] = rewrite_refs(schema, rename)
        event_component = _free(component_name(entry.type), taken)
        taken.add(event_component)
        schemas[event_component] = rewrite_refs(body, rename)
        webhooks[entry.type] = {"post": _operation(entry, event_component)}
    document["webhooks"] = webhooks
    return document


def _place(name: str, schema: Any, placed: dict[str, tuple[str, Any]], taken: set[str]) -> str:
    if name in placed and placed[name][1] == schema:
        return placed[name][0]
    target = _free(name if name not in placed else f"{name}Payload", taken)
    taken.add(target)
    placed.setdefault(name, (target, schema))
    return target


def _free(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    number = 1
    while f"{name}Payload{number if number > 1 else ''}" in taken:
        number += 1
    return f"{name}Payload{number if number > 1 else ''}"


def _operation(entry: Any, component: str) -> dict[str, Any]:
    phrase = webhook_settings.UNSUBSCRIBE_PHRASE
    return {
        "operationId": "deliver_" + entry.type.replace(".", "_"),
        "summary": entry.label,
        "description": f"What a webhook subscribed to `{entry.type}` receives: a POST to its "
        "URL, never following a redirect, with the webhook's custom headers beside these. "
        f"An answer whose body contains “{phrase}” (any case), whatever its status, deletes "
        "the webhook.",
        "parameters": _headers(entry.type),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": COMPONENTS + component},
                    "example": entry.example,
                },
                "application/xml": {
                    "schema": {
                        "type": "string",
                        "description": "The same tree under <event> (format xml), valid "
                        f"against GET event-types/{entry.type}/schema.xsd.",
                    },
                    "example": payloads.render_xml(entry.example).decode(),
                },
            },
        },
        "responses": _responses(),
        "x-unsubscribe-phrase": phrase,
    }


def _headers(event_type: str) -> list[dict[str, Any]]:
    def header(
        name: str, description: str, schema: dict[str, Any], *, required: bool = True
    ) -> dict[str, Any]:
        return {
            "name": name,
            "in": "header",
            "required": required,
            "description": description,
            "schema": schema,
        }

    return [
        header(
            "webhook-id",
            "The event id, the same on every attempt: drop duplicates by it.",
            {"type": "string", "pattern": ENVELOPE_ID["pattern"]},
        ),
        header(
            "webhook-timestamp",
            "Unix seconds of this attempt.",
            {"type": "string", "pattern": "^[0-9]+$"},
        ),
        header(
            "webhook-signature",
            # Written so that no answer of the API holds "v1," (tests/test_api_signing_secret).
            "Standard Webhooks: `v1`, a comma, and the base64 HMAC-SHA256 of "
            "`{id}.{timestamp}.{body}` keyed with the API key's signing secret; two, "
            "space-separated, while a rotated-out secret is in its grace period.",
            {"type": "string", "pattern": "^v1[,][A-Za-z0-9+/=]+( v1[,][A-Za-z0-9+/=]+)*$"},
        ),
        header("X-Webhook-Event", "The event type.", {"type": "string", "const": event_type}),
        header(
            "X-Webhook-Attempt",
            "1 for the first attempt, then 2, 3, …",
            {"type": "string", "pattern": "^[1-9][0-9]*$"},
        ),
        header(
            "User-Agent",
            "django-webhooks/<version>",
            {"type": "string", "pattern": "^django-webhooks/"},
        ),
        header(
            "traceparent",
            "W3C Trace Context of this attempt, in the trace of the store request that caused "
            "the event: sent when the store traces with OpenTelemetry (the store can turn it "
            "off); continue the trace from it.",
            {"type": "string", "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"},
            required=False,
        ),
    ]


def _responses() -> dict[str, Any]:
    timeout = f"{webhook_settings.TIMEOUT:g}"
    delays = ", ".join(f"{delay:g}" for delay in webhook_settings.RETRY_DELAYS)
    answers: dict[str, Any] = {}
    for code in sorted(webhook_settings.SUCCESS_STATUS_CODES):
        answers[str(code)] = {
            "description": f"Delivered, when the whole answer comes within {timeout} s."
        }
    for code in sorted(webhook_settings.DEACTIVATE_STATUS_CODES):
        answers[str(code)] = {
            "description": "Switches the webhook off: nothing more is sent to it, and what was "
            "scheduled is cancelled."
        }
    answers["default"] = {
        "description": "Any other status, a redirect, no complete answer within "
        f"{timeout} s, or a connection error: failed, and tried again {delays} s after each "
        f"failure ({webhook_settings.MAX_ATTEMPTS} attempts in all), with the same webhook-id "
        "and body."
    }
    return answers
