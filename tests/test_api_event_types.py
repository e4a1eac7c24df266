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
    assert {"type": "order.created", "label": "New order"} in catalog
    assert {"type": "order.fulfillment_status_changed", "label": "Fulfilment status changed"} in (
        catalog
    )
    assert {"type": "customer.deleted", "label": "Customer data removed"} in catalog
    assert [item["type"] for item in catalog] == [t.type for t in events.get_event_types()]


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

    assert {"type": "invoice.paid", "label": "Invoice paid"} in listed
    assert created.status_code == 201
