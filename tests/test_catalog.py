"""The catalog's schemas: exact where the code is exact, open where nobody declared anything."""

from __future__ import annotations

import copy

import pytest
from django.test import override_settings
from jsonschema import Draft202012Validator
from lxml import etree
from rest_framework import serializers

from django_webhooks import catalog, events, payloads, register_event
from tests.teststore import settings as teststore

TESTSTORE = override_settings(WEBHOOKS={**teststore.WEBHOOKS})


def validator(event_type: str) -> Draft202012Validator:
    schema = catalog.entry(event_type).schema
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def xsd(event_type: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.fromstring(catalog.xsd(event_type).encode()))


def all_types() -> list[str]:
    return [entry.type for entry in catalog.entries()]


@pytest.fixture(params=["example store", "test store"])
def store(request):
    if request.param == "test store":
        with TESTSTORE:
            yield request.param
    else:
        yield request.param


def test_every_schema_is_a_2020_12_schema_and_its_example_validates(store):
    for entry in catalog.entries():
        Draft202012Validator.check_schema(entry.schema)
        assert entry.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert list(validator(entry.type).iter_errors(entry.example)) == [], entry.type
        assert xsd(entry.type).validate(etree.fromstring(payloads.render_xml(entry.example)))


def test_no_schema_is_vacuous(store):
    for event_type in all_types():
        example = catalog.entry(event_type).example
        json_schema, xml_schema = validator(event_type), xsd(event_type)

        def rejected(body, json_schema=json_schema, xml_schema=xml_schema) -> bool:
            as_xml = etree.fromstring(payloads.render_xml(body))
            return not json_schema.is_valid(body) and not xml_schema.validate(as_xml)

        other = next(t for t in all_types() if t != event_type)
        assert rejected({**example, "type": other}), event_type
        without_object = copy.deepcopy(example)
        del without_object["data"]["object"]
        assert rejected(without_object), event_type
        wrong_type = copy.deepcopy(example)
        wrong_type["data"]["object"]["id" if "id" in example["data"]["object"] else "webhook"] = {
            "not": "a number"
        }
        assert rejected(wrong_type), event_type
        assert rejected({**example, "id": "42"}), event_type
        assert rejected({**example, "created_at": "2026-11-28T10:30:00+01:00"}), event_type


def test_the_example_stores_documented_payload_validates_both_ways():
    import json
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "docs" / "examples"

    body = json.loads((examples / "Order.json").read_text())

    assert list(validator("order.status_changed").iter_errors(body)) == []
    assert xsd("order.status_changed").validate(etree.parse(str(examples / "Order.xml")))
    assert not validator("order.created").is_valid(body)


def test_previous_holds_the_status_of_a_status_type_and_nothing_unknown():
    example = catalog.entry("order.status_changed").example
    schema = validator("order.status_changed")

    assert example["data"]["previous"] == {"status": "pending"}
    assert not schema.is_valid({**example, "data": {**example["data"], "previous": {}}})
    assert not schema.is_valid({**example, "data": {**example["data"], "previous": {"note": "x"}}})
    assert schema.is_valid(
        {**example, "data": {**example["data"], "previous": {"status": "paid", "note": ""}}}
    )
    assert not schema.is_valid(
        {**example, "data": {**example["data"], "previous": {"status": "paid", "colour": 1}}}
    )
    created = catalog.entry("order.created").example
    assert "previous" not in created["data"]
    assert not validator("order.created").is_valid(
        {**created, "data": {**created["data"], "previous": {"status": "pending"}}}
    )


def test_nullable_relations_are_nullable_and_lists_are_never_null():
    example = catalog.entry("order.created").example
    schema = validator("order.created")

    def with_object(**changes):
        return {**example, "data": {"object": {**example["data"]["object"], **changes}}}

    assert schema.is_valid(with_object(customer=None, items=[]))
    assert not schema.is_valid(with_object(items=None))
    line = {**example["data"]["object"]["items"][0], "supplier": None}
    assert schema.is_valid(with_object(items=[line]))
    as_xml = etree.fromstring(payloads.render_xml(with_object(customer=None, items=[line])))
    assert xsd("order.created").validate(as_xml)


def test_the_test_stores_lines_and_derived_statuses():
    with TESTSTORE:
        purchase = catalog.entry("purchase.payment_changed")
        client_deleted = catalog.entry("client.deleted")
        schema = validator("purchase.payment_changed")

    obj = purchase.schema["$defs"]["Purchase"]
    assert "lines" in obj["properties"]
    assert "items" not in obj["properties"]
    assert purchase.schema["$defs"]["PurchaseLine"]["properties"]["price"]["format"] == "decimal"
    previous = purchase.schema["properties"]["data"]["properties"]["previous"]
    assert previous["required"] == ["payment_state"]
    assert {"payment_state", "fulfilment", "state", "total"} <= set(previous["properties"])
    assert "analytics_tracked" not in previous["properties"]  # ignore_fields never change
    body = purchase.example
    assert schema.is_valid({**body, "data": {**body["data"], "previous": {"payment_state": None}}})
    # The default snapshot: every concrete field, a foreign key as its id.
    fields = client_deleted.schema["$defs"]["Client"]["properties"]
    assert list(fields) == ["id", "full_name", "mail"]


class Untyped(serializers.Serializer):
    id = serializers.IntegerField()
    mood = serializers.SerializerMethodField()

    def get_mood(self, obj):
        return "happy"


def test_what_nobody_declared_is_open_not_guessed():
    sources = {"order": {"model": "shop.Order", "serializer": f"{__name__}.Untyped"}}
    with override_settings(WEBHOOKS={"SOURCES": sources}):
        untyped = catalog.entry("order.created").schema
    callable_sources = {"order": {"model": "shop.Order", "serializer": "builtins.vars"}}
    with override_settings(WEBHOOKS={"SOURCES": callable_sources}):
        rendered_by_a_function = catalog.entry("order.updated").schema

    mood = untyped["$defs"]["Untyped"]["properties"]["mood"]
    assert "type" not in mood
    data = rendered_by_a_function["properties"]["data"]["properties"]
    assert "properties" not in data["object"]
    assert data["object"]["type"] == "object"
    # The model's fields are still known: previous stays exact.
    assert "status" in data["previous"]["properties"]


def test_a_registered_type_without_a_schema_is_an_honest_open_object():
    register_event("invoice.sent", "Invoice sent")
    try:
        entry = catalog.entry("invoice.sent")
    finally:
        events.unregister_event("invoice.sent")

    data = entry.schema["properties"]["data"]
    assert data["type"] == "object"
    assert "properties" not in data
    assert "Not declared" in data["description"]
    assert Draft202012Validator(entry.schema).is_valid({**entry.example, "data": {"any": [1]}})


@pytest.mark.parametrize(
    ("schema", "example", "message"),
    [
        ({"type": "objekt"}, None, "is not a valid JSON Schema"),
        ({"properties": {"a": {"minLength": -1}}}, None, "is not a valid JSON Schema"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, None, "use JSON Schema 2020-12"),
        ("not a schema", None, "must be a JSON Schema object"),
        ({"type": "object", "required": ["a"]}, {"b": 1}, "example does not match its schema"),
        ({"type": "object"}, {"when": object()}, "example is not JSON"),
    ],
)
def test_a_bad_declaration_raises_at_registration_naming_the_type(schema, example, message):
    with pytest.raises(ValueError, match=message) as raised:
        register_event("invoice.voided", "Invoice voided", schema=schema, example=example)

    assert "'invoice.voided'" in str(raised.value)
    assert not events.is_registered("invoice.voided")


def test_the_public_register_event_declares_a_schema():
    import django_webhooks

    django_webhooks.register_event(
        "invoice.voided", "Invoice voided", schema={"type": "object", "required": ["number"]}
    )
    try:
        entry = catalog.entry("invoice.voided")
    finally:
        events.unregister_event("invoice.voided")

    assert entry.schema["properties"]["data"] == {"type": "object", "required": ["number"]}
    assert entry.example["data"] == {"number": {}}
    assert Draft202012Validator(entry.schema).is_valid(entry.example)


def test_a_declared_schema_with_keys_that_are_no_xml_names_still_has_an_xsd():
    register_event(
        "invoice.tagged",
        "Invoice tagged",
        schema={
            "type": "object",
            "properties": {"first name": {"type": "string"}, "xmlish": {"type": "integer"}},
            "required": ["first name"],
            "additionalProperties": False,
        },
        example={"first name": "Ada", "xmlish": 3},
    )
    try:
        entry = catalog.entry("invoice.tagged")
        schema = xsd("invoice.tagged")
    finally:
        events.unregister_event("invoice.tagged")

    body = payloads.render_xml(entry.example)
    assert b'<entry key="first name">Ada</entry>' in body
    assert schema.validate(etree.fromstring(body))
    assert not schema.validate(etree.fromstring(body.replace(b"<data>", b"<data><surprise/>")))


def test_a_third_party_generates_a_typed_model_from_the_catalog(tmp_path):
    """docs/api.md's commands, on this catalog (skipped without datamodel-code-generator)."""
    import importlib.util
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(sys.executable).with_name("datamodel-codegen")
    if not tool.exists() and shutil.which("datamodel-codegen") is None:
        pytest.skip("datamodel-code-generator is not installed (an optional tool)")
    pytest.importorskip("email_validator", reason="pydantic's EmailStr needs email-validator")
    entry = catalog.entry("order.status_changed")
    (tmp_path / "order_status_changed.json").write_text(json.dumps(entry.schema))

    subprocess.run(
        [
            str(tool if tool.exists() else shutil.which("datamodel-codegen")),
            "--input",
            str(tmp_path / "order_status_changed.json"),
            "--input-file-type",
            "jsonschema",
            "--output-model-type",
            "pydantic_v2.BaseModel",
            "--class-name",
            "OrderStatusChanged",
            "--output",
            str(tmp_path / "order_events.py"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    spec = importlib.util.spec_from_file_location("order_events", tmp_path / "order_events.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["order_events"] = module  # pydantic resolves its annotations there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["order_events"]

    event = module.OrderStatusChanged.model_validate_json(json.dumps(entry.example))
    assert event.data.previous.status.value == "pending"
    with pytest.raises(ValueError, match="validation error"):
        module.OrderStatusChanged.model_validate({**entry.example, "type": "order.created"})
