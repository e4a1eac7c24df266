"""The envelope as JSON and XML bytes: escaping, lists, nulls, non-ASCII."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from django_webhooks import payloads

CREATED = datetime(2026, 11, 28, 1, 2, 3, 456789, tzinfo=UTC)
DATA = {
    "object": {
        "id": 7,
        "note": 'Fish & chips <b>"quoted"</b> \u2014 Grüße, 日本',
        "total": Decimal("12.50"),
        "paid": True,
        "refunded": False,
        "customer": None,
        "items": [{"sku": "A-1", "quantity": 2}, {"sku": "B-2", "quantity": 1}],
        "tags": [],
    },
    "previous": {"status": "pending"},
}


def document():
    return payloads.envelope("evt_1", "order.status_changed", CREATED, DATA, 42)


def test_envelope_matches_the_contract():
    assert document() == {
        "id": "evt_1",
        "type": "order.status_changed",
        "created_at": "2026-11-28T01:02:03Z",
        "sequence": 42,
        "data": DATA,
    }
    assert list(document()) == ["id", "type", "created_at", "sequence", "data"]


def test_an_event_about_no_object_has_a_null_sequence_in_json_and_xml():
    about_nothing = payloads.envelope("evt_1", "webhook.test", CREATED, {"object": {}})
    assert json.loads(payloads.render(about_nothing, payloads.JSON))["sequence"] is None
    root = ElementTree.fromstring(payloads.render(about_nothing, payloads.XML))
    assert root.find("sequence").get("nil") == "true"


def test_json_round_trips_with_non_ascii_kept_as_utf8():
    body = payloads.render(document(), payloads.JSON)
    assert "Grüße, 日本".encode() in body
    parsed = json.loads(body)
    assert parsed["data"]["object"]["note"] == DATA["object"]["note"]
    assert parsed["data"]["object"]["total"] == "12.50"
    assert parsed["data"]["object"]["customer"] is None
    assert parsed["data"]["object"]["items"][1] == {"sku": "B-2", "quantity": 1}


def test_xml_tree_mirrors_the_json_tree():
    root = ElementTree.fromstring(payloads.render(document(), payloads.XML))
    assert root.tag == "event"
    assert root.findtext("id") == "evt_1"
    assert root.findtext("created_at") == "2026-11-28T01:02:03Z"
    assert root.findtext("sequence") == "42"
    order = root.find("data/object")
    assert order.findtext("note") == DATA["object"]["note"]
    assert order.findtext("total") == "12.50"
    assert order.findtext("paid") == "true"
    assert order.findtext("refunded") == "false"
    assert order.find("customer").get("nil") == "true"
    items = order.findall("items/item")
    assert [item.findtext("sku") for item in items] == ["A-1", "B-2"]
    assert order.find("tags").get("type") == "list"
    assert order.findall("tags/item") == []
    assert root.findtext("data/previous/status") == "pending"


def test_xml_escapes_markup_and_declares_utf8():
    body = payloads.render(document(), payloads.XML)
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b"&lt;b&gt;" in body
    assert b"<b>" not in body


@pytest.mark.parametrize("key", ["1st", "has space", "xmlns", "a:b", ""])
def test_keys_that_are_not_xml_names_survive_as_attributes(key):
    body = payloads.render_xml({"data": {key: "v"}})
    entry = ElementTree.fromstring(body).find("data/entry")
    assert entry.get("key") == key
    assert entry.text == "v"


def test_characters_xml_cannot_carry_are_replaced_not_fatal():
    body = payloads.render_xml({"note": "bell\x07 and nul\x00"})
    assert ElementTree.fromstring(body).findtext("note") == "bell\ufffd and nul\ufffd"


def test_lone_surrogates_become_replacement_characters_in_both_formats():
    data = {"name": "bad \ud800 half"}
    assert json.loads(payloads.render(data, payloads.JSON)) == {"name": "bad \ufffd half"}
    root = ElementTree.fromstring(payloads.render(data, payloads.XML))
    assert root.findtext("name") == "bad \ufffd half"


def test_nan_and_infinity_are_not_json():
    for number in (float("nan"), float("inf")):
        with pytest.raises(TypeError):
            payloads.to_json_compatible({"weight": number})


def test_xml_keeps_carriage_returns_and_tells_empty_objects_from_empty_text():
    root = ElementTree.fromstring(
        payloads.render_xml({"note": "line 1\r\nline 2", "empty": {}, "blank": ""})
    )
    assert root.findtext("note") == "line 1\r\nline 2"
    assert (root.find("empty").get("type"), root.find("blank").get("type")) == ("object", None)


def test_a_key_with_a_trailing_newline_does_not_pass_for_a_name():
    root = ElementTree.fromstring(payloads.render_xml({"status\n": "forged", "status": "paid"}))
    assert root.findtext("status") == "paid"
    assert root.find("entry").get("key") == "status\n"


def test_nested_lists_and_numbers():
    root = ElementTree.fromstring(payloads.render_xml({"grid": [[1, 2], [3.5]]}))
    rows = root.findall("grid/item")
    assert [[cell.text for cell in row.findall("item")] for row in rows] == [["1", "2"], ["3.5"]]


def test_content_types_carry_the_charset():
    assert payloads.CONTENT_TYPES == {
        "json": "application/json; charset=utf-8",
        "xml": "application/xml; charset=utf-8",
    }
