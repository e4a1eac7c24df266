"""Event sources on a store unlike the example (tests/teststore): names, derived statuses,
related rows two foreign keys away, lines under another name, set-based writes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_webhooks import bulk_saved, events, send_event, update
from django_webhooks.models import Event, Webhook
from django_webhooks.worker import dispatch
from tests.teststore import settings as teststore
from tests.teststore.models import (
    Client,
    Payment,
    Purchase,
    PurchaseLine,
    Shipment,
    ShipmentLine,
)

PURCHASE_TYPES = [
    "purchase.created",
    "purchase.updated",
    "purchase.state_changed",
    "purchase.payment_changed",
    "purchase.fulfilment_changed",
    "purchase.deleted",
]

# Real transactions: what one transaction coalesces is the point of several tests here.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.webhook(url="https://erp.example.com/hooks", events=PURCHASE_TYPES),
]


@pytest.fixture(autouse=True)
def teststore_sources(woken):
    with override_settings(WEBHOOKS=teststore.WEBHOOKS | {"ALLOW_PRIVATE_DESTINATIONS": True}):
        yield


def purchase(reference="P-1", total="100.00", lines=(("AC-1", "acme", 2),)) -> Purchase:
    with transaction.atomic():
        made = Purchase.objects.create(reference=reference, total=Decimal(total))
        for sku, supplier, quantity in lines:
            PurchaseLine.objects.create(
                purchase=made, sku=sku, supplier=supplier, quantity=quantity, price=Decimal("10")
            )
    return made


def recorded(*types: str) -> list[Event]:
    """The events recorded so far (of these types), their payloads built as the worker does."""
    dispatch.dispatch_pending()
    found = Event.objects.order_by("created_at", "id")
    if types:
        found = found.filter(type__in=types)
    return list(found)


def test_the_catalog_offers_what_the_sources_can_fire_and_nothing_else():
    catalog = {entry.type: str(entry.label) for entry in events.get_event_types()}
    assert [t for t in catalog if t.startswith("purchase.")] == [
        "purchase.created",
        "purchase.updated",
        "purchase.state_changed",
        "purchase.payment_changed",
        "purchase.fulfilment_changed",
        "purchase.deleted",
    ]
    assert "client.deleted" in catalog
    assert "client.created" not in catalog  # its source fires deletes only
    assert not [t for t in catalog if t.startswith("order.")]  # no ORDER_MODEL here
    assert catalog["purchase.created"] == "Purchase created"
    assert catalog["purchase.payment_changed"] == "Purchase payment state changed"
    assert "webhook.test" in catalog  # registered types stay
    assert "customer.deleted" in catalog


def test_a_change_of_an_ignored_field_alone_is_no_event(webhook):
    made = purchase()
    Event.objects.all().delete()
    made.analytics_tracked = True
    made.save()
    assert recorded() == []
    made.state = "cancelled"
    made.analytics_tracked = False
    made.save()
    (updated, state_changed) = recorded()
    assert (updated.type, state_changed.type) == ("purchase.updated", "purchase.state_changed")
    assert updated.data["previous"] == {"state": "placed"}  # the ignored field is not in it


def test_a_payment_row_fires_the_derived_payment_status_with_its_previous_value(webhook):
    made = purchase(total="20.00")
    Event.objects.all().delete()
    with transaction.atomic():
        Payment.objects.create(purchase=made, amount=Decimal("20.00"))
    (event,) = recorded()
    assert event.type == "purchase.payment_changed"
    assert event.data["previous"] == {"payment_state": "unpaid"}
    assert event.data["object"]["payment_state"] == "paid"
    assert [line["sku"] for line in event.data["object"]["lines"]] == ["AC-1"]


def test_a_rolled_back_payment_fires_nothing(webhook):
    made = purchase(total="20.00")
    Event.objects.all().delete()
    with transaction.atomic():
        Payment.objects.create(purchase=made, amount=Decimal("20.00"))
        transaction.set_rollback(True)
    assert recorded() == []


def test_several_related_writes_in_one_transaction_fire_one_event_per_changed_value(webhook):
    made = purchase(total="30.00")
    Event.objects.all().delete()
    with transaction.atomic():
        Payment.objects.create(purchase=made, amount=Decimal("10.00"))  # partially paid
        Payment.objects.create(purchase=made, amount=Decimal("20.00"))  # paid
    (event,) = recorded()
    assert event.data["previous"] == {"payment_state": "unpaid"}
    assert event.data["object"]["payment_state"] == "paid"  # the value as committed


def test_a_value_changed_and_changed_back_in_one_transaction_is_no_event(webhook):
    made = purchase(total="30.00")
    Event.objects.all().delete()
    with transaction.atomic():
        payment = Payment.objects.create(purchase=made, amount=Decimal("30.00"))
        payment.delete()
    assert recorded() == []


def test_a_rolled_back_savepoint_takes_its_event_with_it(webhook):
    made = purchase(total="30.00")
    Event.objects.all().delete()
    with transaction.atomic():
        try:
            with transaction.atomic():
                Payment.objects.create(purchase=made, amount=Decimal("30.00"))
                raise RuntimeError("the payment provider said no")
        except RuntimeError:
            pass
        Payment.objects.create(purchase=made, amount=Decimal("5.00"))
    (event,) = recorded()
    assert event.data["previous"] == {"payment_state": "unpaid"}
    assert event.data["object"]["payment_state"] == "partially_paid"


def test_shipment_lines_two_foreign_keys_away_fire_the_fulfilment_status(webhook):
    made = purchase(lines=(("AC-1", "acme", 2), ("GL-1", "globex", 1)))
    first, second = made.lines.order_by("id")
    Event.objects.all().delete()
    with transaction.atomic():
        shipment = Shipment.objects.create(purchase=made)
        ShipmentLine.objects.create(shipment=shipment, line=first, quantity=2)
    (partly,) = recorded()
    assert partly.type == "purchase.fulfilment_changed"
    assert partly.data["previous"] == {"fulfilment": "unshipped"}
    assert partly.data["object"]["fulfilment"] == "partly_shipped"
    with transaction.atomic():
        ShipmentLine.objects.create(shipment=shipment, line=second, quantity=1)
    assert [e.data["previous"] for e in recorded("purchase.fulfilment_changed")] == [
        {"fulfilment": "unshipped"},
        {"fulfilment": "partly_shipped"},
    ]


def test_a_payment_moved_to_another_purchase_re_evaluates_both(webhook):
    one, two = purchase("P-1", total="10.00"), purchase("P-2", total="10.00")
    with transaction.atomic():
        payment = Payment.objects.create(purchase=one, amount=Decimal("10.00"))
    Event.objects.all().delete()
    payment = Payment.objects.get(pk=payment.pk)
    with transaction.atomic():
        payment.purchase = two
        payment.save()
    changes = {(e.object_pk, e.data["previous"]["payment_state"]) for e in recorded()}
    assert changes == {(str(one.pk), "paid"), (str(two.pk), "unpaid")}


def test_deleting_a_purchase_fires_its_deleted_event_not_its_payments_changes(webhook):
    made = purchase(total="10.00")
    with transaction.atomic():
        Payment.objects.create(purchase=made, amount=Decimal("10.00"))
    Event.objects.all().delete()
    made.delete()
    assert [e.type for e in recorded()] == ["purchase.deleted"]


def test_a_stale_cached_property_is_never_what_is_compared(webhook):
    made = purchase(total="10.00")
    assert made.payment_state == "unpaid"  # cached on this instance now
    Event.objects.all().delete()
    with transaction.atomic():
        Payment.objects.create(purchase=made, amount=Decimal("10.00"))
        made.state = "complete"
        made.save()  # this instance still says "unpaid"
    types = sorted(e.type for e in recorded())
    assert types == ["purchase.payment_changed", "purchase.state_changed", "purchase.updated"]
    (payment,) = recorded("purchase.payment_changed")
    assert payment.data["object"]["payment_state"] == "paid"


def test_nobody_listening_costs_a_related_write_one_query(api_key):
    made = purchase(total="10.00")
    with CaptureQueriesContext(connection) as queries:
        Payment.objects.create(purchase=made, amount=Decimal("10.00"))
    # The INSERT, and the one question "does anyone listen?"; no read of the purchase.
    assert len(queries) == 2, [q["sql"] for q in queries]


def test_a_related_write_reads_its_purchase_once_per_transaction(webhook):
    made = purchase(total="100.00")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        Payment.objects.create(purchase=made, amount=Decimal("10.00"))
        first = len(queries)
        Payment.objects.create(purchase=made, amount=Decimal("10.00"))
        second = len(queries) - first
    purchase_reads = [q for q in queries if 'FROM "teststore_purchase"' in q["sql"]]
    assert len(purchase_reads) == 1
    assert second < first


def test_send_event_with_an_instance_renders_it_from_the_committed_rows(webhook):
    events.register_event("purchase.reminded", "Purchase reminded")
    try:
        webhook.events = [*webhook.events, "purchase.reminded"]
        webhook.save()
        made = purchase()
        Event.objects.all().delete()
        with transaction.atomic():
            send_event("purchase.reminded", {"channel": "mail"}, instance=made)
            PurchaseLine.objects.create(purchase=made, sku="AC-2", supplier="acme")
        (event,) = recorded()
    finally:
        events.unregister_event("purchase.reminded")
    assert event.data["channel"] == "mail"
    assert event.data["object"]["reference"] == "P-1"
    assert [line["sku"] for line in event.data["object"]["lines"]] == ["AC-1", "AC-2"]


def test_send_event_refuses_an_instance_of_no_source():
    with pytest.raises(ValueError, match="not an event source"):
        send_event("webhook.test", instance=PurchaseLine(pk=1))


def test_item_filters_apply_to_the_sources_lines(api_key):
    Webhook.objects.create(
        api_key=api_key,
        url="https://acme.example.com/",
        events=["purchase.created"],
        filter={"items": {"supplier": "acme"}},
    )
    purchase(lines=(("AC-1", "acme", 1), ("GL-1", "globex", 1)))
    purchase("P-2", lines=(("GL-2", "globex", 1),))
    dispatch.dispatch_pending()
    from django_webhooks.models import DeliveryAttempt

    (attempt,) = DeliveryAttempt.objects.all()
    assert [line["sku"] for line in attempt.object_override["lines"]] == ["AC-1"]


def test_update_fires_what_each_changed_rows_save_would(webhook):
    rows = [purchase(f"P-{n}") for n in range(3)]
    Purchase.objects.filter(pk=rows[0].pk).update(state="cancelled")  # already cancelled
    Event.objects.all().delete()
    changed = update(Purchase.objects.filter(pk__in=[r.pk for r in rows]), state="cancelled")
    assert changed == 3
    fired = recorded()
    assert sorted((e.type, e.object_pk) for e in fired) == sorted(
        [(t, str(r.pk)) for r in rows[1:] for t in ("purchase.updated", "purchase.state_changed")]
    )
    assert {tuple(e.data["previous"].items()) for e in fired} == {(("state", "placed"),)}


def test_update_costs_the_same_queries_of_ours_for_three_rows_as_for_thirty(webhook):
    few = [purchase(f"F-{n}").pk for n in range(3)]
    many = [purchase(f"M-{n}").pk for n in range(30)]

    def ours(queries) -> list[str]:
        # Not the store's own: payment_state and fulfilment() query these tables per row.
        theirs = ("teststore_payment", "teststore_purchaseline", "teststore_shipmentline")
        return [q["sql"] for q in queries if not any(table in q["sql"] for table in theirs)]

    with CaptureQueriesContext(connection) as three:
        update(Purchase.objects.filter(pk__in=few), state="complete")
    with CaptureQueriesContext(connection) as thirty:
        update(Purchase.objects.filter(pk__in=many), state="complete")
    assert len(ours(three)) == len(ours(thirty))
    assert Event.objects.filter(type="purchase.state_changed").count() == 33


def test_bulk_saved_fires_the_events_of_a_bulk_update_and_a_bulk_create(webhook):
    rows = [purchase(f"P-{n}") for n in range(2)]
    Event.objects.all().delete()
    loaded = list(Purchase.objects.filter(pk__in=[r.pk for r in rows]))
    with transaction.atomic():
        for row in loaded:
            row.state = "complete"
        Purchase.objects.bulk_update(loaded, ["state"])
        bulk_saved(loaded, update_fields=["state"])
        made = Purchase.objects.bulk_create([Purchase(reference="B-1"), Purchase(reference="B-2")])
        bulk_saved(made, created=True)
    assert sorted(e.type for e in recorded()) == [
        "purchase.created",
        "purchase.created",
        "purchase.state_changed",
        "purchase.state_changed",
        "purchase.updated",
        "purchase.updated",
    ]


def test_a_source_that_fires_only_deletes(api_key):
    Webhook.objects.create(
        api_key=api_key, url="https://crm.example.com/", events=["client.deleted"]
    )
    client = Client.objects.create(full_name="Ada", mail="ada@example.com")
    client.full_name = "Ada L."
    client.save()
    client.delete()
    (event,) = recorded()
    assert event.type == "client.deleted"
    assert event.data["object"]["full_name"] == "Ada L."


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"object": {"status": "paid"}},
            "object.status: the purchase payload has no field “status”",
        ),
        ({"object": {"buyer.email": {"exists": True}}}, "has no field “email” (it has: full_name"),
        ({"object": {"state.name": "x"}}, "field “name” under “state” (a plain value)"),
        ({"items": {"vendor": "acme"}}, "items.vendor: the purchase lines have no field “vendor”"),
    ],
)
def test_a_filter_naming_what_the_payload_lacks_is_refused_with_a_message(api_key, spec, message):
    from django.core.exceptions import ValidationError

    webhook = Webhook(
        api_key=api_key, url="https://e.example.com/", events=PURCHASE_TYPES, filter=spec
    )
    with pytest.raises(ValidationError) as refused:
        webhook.full_clean()
    assert message in " ".join(refused.value.message_dict["filter"])


def test_a_filter_on_what_the_payload_has_is_accepted(api_key):
    webhook = Webhook(
        api_key=api_key,
        url="https://e.example.com/",
        events=PURCHASE_TYPES,
        filter={
            "object": {"state": "placed", "buyer.mail": {"exists": True}},
            "items": {"supplier": "acme"},
        },
    )
    webhook.full_clean()


def paid_in_full(purchase: Purchase) -> bool:
    """A status the store computes outside its model (as for a framework's model)."""
    return Purchase.objects.get(pk=purchase.pk).amount_paid >= purchase.total


def test_a_status_may_be_a_function_given_by_dotted_path(api_key):
    sources = {
        "purchase": {
            "model": "teststore.Purchase",
            "status_fields": {
                "paid_in_full": {
                    "type": "purchase.paid_in_full_changed",
                    "value": "tests.test_sources.paid_in_full",
                },
            },
            "related": {"teststore.Payment": "purchase"},
        }
    }
    with override_settings(WEBHOOKS={"SOURCES": sources}):
        Webhook.objects.create(
            api_key=api_key, url="https://e.example.com/", events=["purchase.paid_in_full_changed"]
        )
        made = purchase(total="10.00")
        with transaction.atomic():
            Payment.objects.create(purchase=made, amount=Decimal("10.00"))
        (event,) = recorded()
    assert event.type == "purchase.paid_in_full_changed"
    assert event.data["previous"] == {"paid_in_full": False}


def test_saves_through_a_proxy_model_are_the_sources_too(webhook):
    from tests.teststore.models import RushPurchase

    with transaction.atomic():
        rushed = RushPurchase.objects.create(reference="R-1", total=Decimal("5.00"))
    rushed.state = "complete"
    rushed.save()
    with transaction.atomic():
        Payment.objects.create(purchase=rushed, amount=Decimal("5.00"))
    assert [e.type for e in recorded()] == [
        "purchase.created",
        "purchase.updated",
        "purchase.state_changed",
        "purchase.payment_changed",
    ]
