"""Write docs/examples/Order.json and Order.xml: what a destination receives for an order.

    python docs/generate_examples.py

A fixed sample order of the example store is built in a throwaway in-memory database and
rendered by the app's own code (the ORDER_SERIALIZER snapshot, the envelope, the JSON and XML
renderers), then indented for reading: on the wire the same document is compact.
``tests/test_docs.py`` fails when the files differ from what this produces.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

DOCS = Path(__file__).resolve().parent
EXAMPLES = DOCS / "examples"
EVENT_ID = "evt_01JDQ3C6WZ6RKG0X7S5N9M4T2V"
EVENT_TYPE = "order.status_changed"
CREATED_AT = datetime(2026, 11, 28, 9, 30, 0, tzinfo=UTC)
ORDER_SERIALIZER = "example_project.shop.serializers.OrderSerializer"


def render_examples() -> dict[str, str]:
    """``{file name: text}``. Needs Django set up with the example store and a database."""
    from django.conf import settings
    from django.db import transaction
    from django.test import override_settings
    from django.utils import timezone

    from django_webhooks.models import Event
    from django_webhooks.payloads import render_event
    from django_webhooks.snapshots import order_snapshot
    from example_project.shop.models import Customer, Order, OrderItem, Supplier

    webhooks = {**getattr(settings, "WEBHOOKS", {}), "ORDER_SERIALIZER": ORDER_SERIALIZER}
    with override_settings(WEBHOOKS=webhooks), timezone.override(UTC), transaction.atomic():
        customer = Customer.objects.create(pk=77, name="Ada Lovelace", email="ada@example.com")
        supplier = Supplier.objects.create(code="darjeeling-co", name="Darjeeling & Co.")
        order = Order.objects.create(
            pk=1042,
            customer=customer,
            status=Order.Status.PAID,
            payment_status=Order.PaymentStatus.COMPLETED,
            note="Leave it at the back door.",
        )
        OrderItem.objects.create(
            pk=1,
            order=order,
            supplier=supplier,
            sku="TEA-250",
            name="First flush tea, 250 g",
            quantity=2,
            unit_price=Decimal("12.90"),
        )
        OrderItem.objects.create(
            pk=2, order=order, sku="MUG-01", name="Stoneware mug", unit_price=Decimal("9.50")
        )
        Order.objects.filter(pk=order.pk).update(created_at=CREATED_AT, updated_at=CREATED_AT)
        order.refresh_from_db()
        data = {"object": order_snapshot(order), "previous": {"status": "pending"}}
        transaction.set_rollback(True)
    event = Event(id=EVENT_ID, type=EVENT_TYPE, created_at=CREATED_AT, data=data)
    return {
        "Order.json": _indented_json(render_event(event, "json")),
        "Order.xml": _indented_xml(render_event(event, "xml")),
    }


def _indented_json(body: bytes) -> str:
    return json.dumps(json.loads(body), indent=2, ensure_ascii=False) + "\n"


def _indented_xml(body: bytes) -> str:
    element = ElementTree.fromstring(body)
    ElementTree.indent(element)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=True).decode() + "\n"


def main() -> None:
    sys.path.insert(0, str(DOCS.parent))
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    os.environ["DATABASE_URL"] = "sqlite://:memory:"  # a scratch database, never the store's

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    EXAMPLES.mkdir(exist_ok=True)
    for name, text in render_examples().items():
        (EXAMPLES / name).write_text(text, encoding="utf-8")
        print(f"wrote {(EXAMPLES / name).relative_to(DOCS.parent)}")


if __name__ == "__main__":
    main()
