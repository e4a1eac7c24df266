"""The OpenAPI 3 document: valid, warning-free, limited to this API, behind the key."""

import json

import pytest
import yaml
from django.core.management import call_command
from django.urls import include
from django.urls import path as route
from drf_spectacular.validation import validate_schema
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tests.api_support import url
from tests.factories import make_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]

OPERATIONS = {
    ("/api/webhooks/", "get"),
    ("/api/webhooks/", "post"),
    ("/api/webhooks/{id}/", "get"),
    ("/api/webhooks/{id}/", "put"),
    ("/api/webhooks/{id}/", "patch"),
    ("/api/webhooks/{id}/", "delete"),
    ("/api/webhooks/{id}/test/", "post"),
    ("/api/webhooks/{id}/attempts/", "get"),
    ("/api/attempts/{id}/redeliver/", "post"),
    ("/api/event-types/", "get"),
    ("/api/event-types/{event_type}/schema.xsd", "get"),
    ("/api/signing-secret/rotate/", "post"),
    ("/api/portal-link/", "post"),
}


class StoreOwnView(APIView):
    """A view of the store's own API, mounted beside this one."""

    def get(self, request):
        return Response({})


urlpatterns = [
    route("api/", include("django_webhooks.api.urls")),
    route("store-api/things/", StoreOwnView.as_view()),
]


def served_schema(client) -> dict:
    response = client.get(url("schema"), {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_spectacular_validates_without_a_warning(tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    document = yaml.safe_load(target.read_text())
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations >= OPERATIONS
    # The store's own document keeps the store's settings: 3.1 and webhooks are ours alone.
    assert document["openapi"] == "3.0.3"
    assert "webhooks" not in document


def test_the_served_schema_is_valid_openapi_3_1_of_this_api_only():
    _key, client = make_key()

    document = served_schema(client)

    validate_schema(document)
    OpenAPIV31SpecValidator(document).validate()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "Webhooks API"
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations == OPERATIONS


@pytest.mark.urls(__name__)
def test_the_served_schema_leaves_the_stores_own_views_out():
    _key, client = make_key()

    document = served_schema(client)

    assert "/store-api/things/" not in document["paths"]
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations == OPERATIONS


def test_every_operation_requires_the_api_key_header_and_documents_its_errors():
    _key, client = make_key()

    document = served_schema(client)

    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": document["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["security"] == [{"ApiKey": []}], (path, method)
            assert {"401", "429"} <= set(operation["responses"]), (path, method)


def test_the_events_enum_is_the_catalog():
    _key, client = make_key()

    document = served_schema(client)

    events = document["components"]["schemas"]["Webhook"]["properties"]["events"]
    assert events["minItems"] == 1
    enum_name = events["items"]["$ref"].rpartition("/")[2]
    assert "customer.deleted" in document["components"]["schemas"][enum_name]["enum"]


def test_the_schema_needs_a_key():
    response = make_key()[1].get(url("schema"))
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["paths"]
    assert APIClient().get(url("schema")).status_code == 401


def test_the_schema_does_not_depend_on_the_stores_default_schema_class(settings):
    settings.REST_FRAMEWORK = {}
    _key, client = make_key()

    document = served_schema(client)

    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations == OPERATIONS


STORE_WITHOUT_SCHEMA_SETTINGS = """
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework",
                    "django_q", "django_webhooks"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF="django_webhooks.api.urls",
    Q_CLUSTER={"name": "bare", "orm": "default"},
    SECRET_KEY="bare", USE_TZ=True, ALLOWED_HOSTS=["testserver"],
)
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from django_webhooks.models import ApiKey
_key, token = ApiKey.objects.create_key(name="Bare")
answer = Client().get("/schema/?format=json", HTTP_AUTHORIZATION="Api-Key " + token)
document = answer.json()
print(answer.status_code, "/webhooks/" in document["paths"], document["openapi"],
      list(document["webhooks"]))
"""


def test_the_schema_is_served_in_a_store_without_drf_schema_settings():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", STORE_WITHOUT_SCHEMA_SETTINGS],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "ignore"},
    )
    assert result.stdout.split() == ["200", "True", "3.1.0", "['webhook.test']"], (
        result.stdout + result.stderr[-2000:]
    )


def test_webhooks_describe_each_delivery_by_reference_to_its_types_schema():
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from django_webhooks import catalog

    _key, client = make_key()

    document = served_schema(client)

    assert list(document["webhooks"]) == [entry.type for entry in catalog.entries()]
    registry = Registry().with_resource("urn:api", Resource(document, DRAFT202012))
    for entry in catalog.entries():
        post = document["webhooks"][entry.type]["post"]
        headers = {p["name"]: p for p in post["parameters"] if p["in"] == "header"}
        assert set(headers) == {
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "X-Webhook-Event",
            "X-Webhook-Attempt",
            "User-Agent",
            "traceparent",
        }
        assert [name for name, p in headers.items() if not p["required"]] == ["traceparent"]
        assert headers["X-Webhook-Event"]["schema"] == {"type": "string", "const": entry.type}
        json_body = post["requestBody"]["content"]["application/json"]
        ref = json_body["schema"]["$ref"]
        assert ref.startswith("#/components/schemas/")
        # The component, resolved inside the document, accepts the example and no other type.
        validator = Draft202012Validator({"$ref": "urn:api" + ref}, registry=registry)
        assert validator.is_valid(entry.example), entry.type
        assert not validator.is_valid({**entry.example, "type": "order.other"})
        assert json_body["example"] == entry.example
        xml_body = post["requestBody"]["content"]["application/xml"]
        assert xml_body["example"].startswith("<?xml")
        assert f"event-types/{entry.type}/schema.xsd" in xml_body["schema"]["description"]
        assert set(post["responses"]) == {
            "200",
            *(str(code) for code in (400, 401, 403, 404, 405, 406, 410, 411)),
            "default",
        }
        assert post["x-unsubscribe-phrase"] == "please unsubscribe me"
        assert "please unsubscribe me" in post["description"]


def test_payload_components_never_replace_the_apis_own():
    from django_webhooks.catalog.openapi import add_webhooks

    document = {"components": {"schemas": {"Order": {"type": "string", "description": "ours"}}}}

    add_webhooks(document)

    schemas = document["components"]["schemas"]
    assert schemas["Order"] == {"type": "string", "description": "ours"}
    assert schemas["OrderPayload"]["properties"]["customer"]["anyOf"][0] == {
        "$ref": "#/components/schemas/Customer"
    }
    body = schemas["OrderCreatedEvent"]
    assert body["properties"]["data"]["properties"]["object"] == {
        "$ref": "#/components/schemas/OrderPayload"
    }
