"""/api/event-types/: the catalog a webhook can subscribe to."""

import pytest

from django_webhooks import events, register_event
from tests.api_support import url
from tests.factories import make_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]


def test_lists_type_and_label_of_every_registered_type():
    _key, client = make_key()

    response = client.get(url("event-types"))

    assert response.status_code == 200
    catalog = response.json()
    labels = {item["type"]: item["label"] for item in catalog}
    assert labels["order.created"] == "New order"
    assert labels["order.fulfillment_status_changed"] == "Fulfilment status changed"
    assert labels["customer.deleted"] == "Customer data removed"
    assert [item["type"] for item in catalog] == [t.type for t in events.get_event_types()]
    assert {tuple(sorted(item)) for item in catalog} == {
        ("example", "label", "schema", "type", "xsd")
    }


def test_types_registered_later_are_listed_and_accepted():
    _key, client = make_key()
    register_event("invoice.paid", "Invoice paid")
    try:
        listed = client.get(url("event-types")).json()
        created = client.post(
            url("webhook-list"),
            {"url": "https://erp.example.com/", "events": ["invoice.paid"]},
            format="json",
        )
    finally:
        events.unregister_event("invoice.paid")

    assert {"type": "invoice.paid", "label": "Invoice paid"} in [
        {"type": item["type"], "label": item["label"]} for item in listed
    ]
    assert created.status_code == 201


def test_each_entry_has_a_schema_its_example_satisfies_and_a_link_to_its_xsd():
    from jsonschema import Draft202012Validator
    from lxml import etree

    from django_webhooks import payloads

    _key, client = make_key()

    catalog = client.get(url("event-types")).json()

    for item in catalog:
        Draft202012Validator.check_schema(item["schema"])
        validator = Draft202012Validator(
            item["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        assert list(validator.iter_errors(item["example"])) == [], item["type"]
        assert item["example"]["type"] == item["type"]
        assert item["xsd"] == f"http://testserver/api/event-types/{item['type']}/schema.xsd"
        answer = client.get(item["xsd"], HTTP_ACCEPT="application/xml")
        assert answer.status_code == 200
        assert answer["Content-Type"] == "application/xml; charset=utf-8"
        xsd = etree.XMLSchema(etree.fromstring(answer.content))
        assert xsd.validate(etree.fromstring(payloads.render_xml(item["example"]))), item["type"]


def test_an_unknown_types_xsd_is_a_json_404_and_the_xsd_needs_a_key():
    from rest_framework.test import APIClient

    _key, client = make_key()

    answer = client.get("/api/event-types/order.nothing/schema.xsd", HTTP_ACCEPT="application/xml")

    assert answer.status_code == 404
    assert answer.json() == {"detail": "Unknown event type."}
    assert APIClient().get("/api/event-types/order.created/schema.xsd").status_code == 401


def test_a_registered_schema_and_example_are_served_inside_the_envelope():
    declared = {
        "type": "object",
        "properties": {"invoice": {"$ref": "#/$defs/invoice"}},
        "required": ["invoice"],
        "$defs": {"invoice": {"type": "object", "properties": {"number": {"type": "string"}}}},
    }
    register_event(
        "invoice.paid", "Invoice paid", schema=declared, example={"invoice": {"number": "F-1"}}
    )
    _key, client = make_key()
    try:
        listed = {item["type"]: item for item in client.get(url("event-types")).json()}
    finally:
        events.unregister_event("invoice.paid")

    entry = listed["invoice.paid"]
    assert entry["example"]["data"] == {"invoice": {"number": "F-1"}}
    assert entry["schema"]["properties"]["type"] == {
        "const": "invoice.paid",
        "description": "The event type.",
    }
    # Its own "#/$defs/…" references still resolve once it sits inside the envelope.
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(entry["schema"])
    assert validator.is_valid(entry["example"])
    assert not validator.is_valid({**entry["example"], "data": {"invoice": {"number": 1}}})
