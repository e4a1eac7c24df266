"""Order saves and deletes become the catalog's order events, recorded in the transaction."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_webhooks import events
from django_webhooks.models import DeliveryAttempt, Event, Webhook
from django_webhooks.worker import dispatch
from example_project.shop.models import Order, OrderItem, Supplier

ALL_ORDER_EVENTS = sorted(events.ORDER_EVENT_TYPES)
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.webhook(events=ALL_ORDER_EVENTS),
]


def delivered(event_type=None):
    """The events that got attempts, once a worker dispatched them."""
    dispatch.dispatch_pending()
    attempts = DeliveryAttempt.objects.select_related("event").order_by("id")
    return [a.event for a in attempts if event_type is None or a.event_type == event_type]


def test_created_order_payload_includes_items_saved_later_in_the_transaction(webhook):
    supplier = Supplier.objects.create(code="acme", name="ACME")
    with transaction.atomic():
        order = Order.objects.create(note="gift")
        OrderItem.objects.create(
            order=order, sku="A-1", name="Anvil", quantity=2, supplier=supplier
        )
    assert Event.objects.get().data is None  # built by the worker from the committed rows
    (event,) = delivered()
    assert event.type == "order.created"
    assert event.data["object"]["id"] == order.pk
    assert event.data["object"]["items"] == [
        {
            "id": order.items.get().pk,
            "sku": "A-1",
            "name": "Anvil",
            "quantity": 2,
            "unit_price": "0.00",
            "supplier": "acme",
        }
    ]
    assert "previous" not in event.data


def test_status_change_fires_updated_and_status_changed_with_previous(webhook):
    order = Order.objects.create()
    Event.objects.all().delete()
    order.status = Order.Status.PAID
    order.payment_status = Order.PaymentStatus.COMPLETED
    order.save()
    dispatch.dispatch_pending()
    types = sorted(event.type for event in Event.objects.all())
    assert types == [
        "order.payment_status_changed",
        "order.status_changed",
        "order.updated",
    ]
    for event in Event.objects.all():
        assert event.data["previous"] == {"status": "pending", "payment_status": "requested"}
        assert event.data["object"]["status"] == "paid"


def test_fulfilment_change_fires_its_own_event(webhook):
    order = Order.objects.create()
    order.fulfillment_status = Order.FulfillmentStatus.FULFILLED
    order.save(update_fields=["fulfillment_status"])
    assert {e.type for e in Event.objects.exclude(type="order.created")} == {
        "order.updated",
        "order.fulfillment_status_changed",
    }


def test_a_save_that_changes_nothing_emits_nothing(webhook):
    order = Order.objects.create()
    before = Event.objects.count()
    order.save()  # updated_at (auto_now) moves, but that is not a change of the order
    Order.objects.get(pk=order.pk).save()
    assert Event.objects.count() == before


def test_other_field_changes_fire_only_order_updated(webhook):
    order = Order.objects.create()
    order.note = "leave at the door"
    order.save()
    dispatch.dispatch_pending()
    (event,) = Event.objects.exclude(type="order.created")
    assert event.type == "order.updated"
    assert event.data["previous"] == {"note": ""}


def test_changes_are_measured_against_what_the_instance_last_saw(webhook):
    order = Order.objects.create()
    order.status = Order.Status.PAID
    order.save()
    order.save()  # nothing changed since the last save
    Order.objects.get(pk=order.pk).save()  # nor for a fresh copy
    order.status = Order.Status.COMPLETE
    order.save(update_fields=["status"])
    dispatch.dispatch_pending()
    changed = Event.objects.filter(type="order.status_changed").order_by("created_at", "pk")
    assert [event.previous for event in changed] == [{"status": "pending"}, {"status": "paid"}]


def test_deferred_fields_are_not_mistaken_for_changes(webhook):
    Order.objects.create(note="hello")
    Event.objects.all().delete()
    partial = Order.objects.only("status").get()
    partial.status = Order.Status.PAID
    partial.save()
    dispatch.dispatch_pending()
    assert sorted(Event.objects.values_list("type", flat=True)) == [
        "order.status_changed",
        "order.updated",
    ]
    assert Event.objects.get(type="order.updated").previous == {"status": "pending"}


def test_rolled_back_transaction_sends_nothing(api_key):
    from django_q.brokers import get_broker

    Webhook.objects.create(api_key=api_key, url="https://a.example.com/", events=ALL_ORDER_EVENTS)
    broker = get_broker()
    broker.purge_queue()

    def place_order_then_fail():
        with transaction.atomic():
            Order.objects.create()
            raise RuntimeError("payment provider said no")

    with pytest.raises(RuntimeError):
        place_order_then_fail()
    assert Event.objects.count() == 0
    assert broker.queue_size() == 0  # no wake-up either
    Order.objects.create()
    assert Event.objects.count() == 1
    assert broker.queue_size() == 1
    broker.purge_queue()


def test_rolled_back_savepoint_sends_only_what_survived(webhook):
    with transaction.atomic():
        kept = Order.objects.create()
        try:
            with transaction.atomic():
                Order.objects.create()
                raise ValueError
        except ValueError:
            pass
    assert [event.data["object"]["id"] for event in delivered()] == [kept.pk]


def test_deleted_order_carries_its_last_state_and_items(webhook):
    order = Order.objects.create()
    OrderItem.objects.create(order=order, sku="A-1", name="Anvil")
    order_pk = order.pk
    order.delete()
    (event,) = delivered("order.deleted")
    assert event.data["object"]["id"] == order_pk
    assert [item["sku"] for item in event.data["object"]["items"]] == ["A-1"]


def test_each_event_shows_the_order_as_its_own_transaction_left_it(webhook):
    """Two changes committed before any worker looked: neither event shows the other's state."""
    order = Order.objects.create()
    order.status = Order.Status.PAID
    order.save()
    order.status = Order.Status.COMPLETE
    order.note = "delivered"
    order.save()
    changed = delivered("order.status_changed")
    assert [
        (e.data["previous"], e.data["object"]["status"], e.data["object"]["note"]) for e in changed
    ] == [
        ({"status": "pending"}, "paid", ""),
        ({"status": "paid", "note": ""}, "complete", "delivered"),
    ]


def test_a_filter_on_the_new_status_sees_the_status_of_its_event(api_key, woken):
    Webhook.objects.create(
        api_key=api_key,
        url="https://accounting.example.com/paid",
        events=["order.status_changed"],
        filter={"object": {"status": {"in": ["paid"]}}},
    )
    order = Order.objects.create()
    order.status = Order.Status.PAID
    order.save()
    order.status = Order.Status.COMPLETE
    order.save()  # committed before the paid event was dispatched
    (event,) = delivered()
    assert event.data["object"]["status"] == "paid"


def test_created_event_shows_the_order_as_committed_by_later_saves_in_its_transaction(
    api_key, woken
):
    Webhook.objects.create(
        api_key=api_key, url="https://erp.example.com/", events=["order.created"]
    )
    with transaction.atomic():
        order = Order.objects.create()
        OrderItem.objects.create(order=order, sku="A-1", name="Anvil")
        order.note = "gift wrap"
        order.save()  # nobody listens to order.updated: still, order.created must show it
    (event,) = delivered()
    assert event.data["object"]["note"] == "gift wrap"
    assert [item["sku"] for item in event.data["object"]["items"]] == ["A-1"]


def test_a_later_transaction_does_not_restate_a_committed_event(api_key, woken):
    Webhook.objects.create(
        api_key=api_key, url="https://erp.example.com/", events=["order.created"]
    )
    order = Order.objects.create(note="first")
    with transaction.atomic():
        order.note = "second"
        order.save()
    (event,) = delivered()
    assert event.data["object"]["note"] == "first"


def test_rolled_back_savepoint_leaves_the_event_as_before_it(webhook):
    with transaction.atomic():
        order = Order.objects.create(note="kept")
        try:
            with transaction.atomic():
                order.note = "undone"
                order.save()
                raise ValueError
        except ValueError:
            pass
    assert [event.data["object"]["note"] for event in delivered()] == ["kept"]


def test_an_order_deleted_before_dispatch_still_has_its_earlier_events_sent(webhook):
    order = Order.objects.create(note="short-lived")
    order_pk = order.pk
    order.delete()
    assert [(e.type, e.data["object"]["id"], e.data["object"]["note"]) for e in delivered()] == [
        ("order.created", order_pk, "short-lived"),
        ("order.deleted", order_pk, "short-lived"),
    ]


def test_a_save_with_deferred_fields_reads_the_committed_row(webhook):
    Order.objects.create(note="hello")
    Event.objects.all().delete()
    partial = Order.objects.only("status").get()
    partial.status = Order.Status.PAID
    partial.save()
    assert Event.objects.filter(object_state__isnull=False).count() == 0
    (event,) = delivered("order.status_changed")
    assert (event.data["object"]["status"], event.data["object"]["note"]) == ("paid", "hello")


def test_a_deferred_save_later_in_the_transaction_leaves_the_event_to_the_committed_row(
    api_key, woken
):
    Webhook.objects.create(
        api_key=api_key, url="https://erp.example.com/", events=["order.created"]
    )
    with transaction.atomic():
        order = Order.objects.create(note="hello")
        partial = Order.objects.only("status").get(pk=order.pk)
        partial.status = Order.Status.PAID
        partial.save()
    (event,) = delivered()
    assert (event.data["object"]["status"], event.data["object"]["note"]) == ("paid", "hello")


def test_a_save_of_some_fields_shows_the_others_as_stored_not_as_in_memory(webhook):
    order = Order.objects.create(note="as stored")
    order.note = "an unsaved draft"
    order.status = Order.Status.PAID
    order.save(update_fields=["status"])
    (event,) = delivered("order.status_changed")
    assert (event.data["object"]["status"], event.data["object"]["note"]) == ("paid", "as stored")
    assert event.data["previous"] == {"status": "pending"}
    order.save()  # now the note is saved: a change against what is stored
    (updated,) = [
        e for e in delivered("order.updated") if e.data["previous"] == {"note": "as stored"}
    ]
    assert updated.data["object"]["note"] == "an unsaved draft"


def test_update_fields_may_name_a_foreign_key_by_its_attname(webhook):
    from example_project.shop.models import Customer

    order = Order.objects.create()
    order.customer = Customer.objects.create(name="Ada")
    order.save(update_fields=["customer_id"])
    (event,) = delivered("order.updated")
    assert event.data["previous"] == {"customer": None}
    assert event.data["object"]["customer"]["name"] == "Ada"


def test_the_kept_state_restores_every_field_exactly(webhook):
    order = Order.objects.create(note="précis ✓")
    (event,) = delivered("order.created")
    order.refresh_from_db()
    fresh = dispatch.snapshot_of(order)
    assert event.data["object"] == fresh  # microseconds, decimals, foreign keys included


def test_a_transaction_of_many_saves_wakes_the_queue_once(webhook):
    with transaction.atomic():
        for _ in range(3):
            order = Order.objects.create()
            order.status = Order.Status.PAID
            order.save()
        assert len(connection.run_on_commit) == 1
    assert Event.objects.count() == 3 * 3


def test_unsubscribed_types_are_not_recorded(api_key, woken):
    Webhook.objects.create(api_key=api_key, url="https://a.example.com/", events=["order.deleted"])
    order = Order.objects.create()
    order.status = Order.Status.PAID
    order.save()
    assert Event.objects.count() == 0
    order.delete()
    assert list(Event.objects.values_list("type", flat=True)) == ["order.deleted"]


def test_no_active_webhook_costs_one_query_and_no_rows(api_key, woken):
    Webhook.objects.create(
        api_key=api_key, url="https://a.example.com/", events=ALL_ORDER_EVENTS, is_active=False
    )
    with CaptureQueriesContext(connection) as queries:
        Order.objects.create()
    assert Event.objects.count() == 0
    assert len(queries) == 2  # our subscription lookup + the INSERT
    assert woken == []


def test_a_status_change_costs_three_or_four_statements_in_its_transaction(webhook):
    order = Order.objects.create()
    order.status = Order.Status.PAID
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        order.save()
    statements = [query["sql"].split()[0] for query in queries]
    # Who listens, the store's UPDATE, one upsert of the order's sequence counter and one
    # INSERT for both events (+ the wake-up row on the ORM broker, committed together), and
    # the transaction's own BEGIN/COMMIT. On PostgreSQL the upsert is the INSERT's WITH.
    assert statements.count("SELECT") == 1
    assert statements.count("UPDATE") == 1
    counters = [q["sql"] for q in queries if "django_webhooks_objectsequence" in q["sql"]]
    assert len(counters) == 1
    events = [q["sql"] for q in queries if 'INSERT INTO "django_webhooks_event"' in q["sql"]]
    assert len(events) == 1
    if connection.vendor == "postgresql":
        assert statements.count("WITH") == 1
        assert events == counters
    else:
        assert statements.count("INSERT") in (2, 3)


def test_fixture_loading_is_not_an_event(webhook):
    from django.core import serializers

    now = timezone.now()
    order = Order(pk=999, status="paid", created_at=now, updated_at=now)
    (loaded,) = serializers.deserialize("json", serializers.serialize("json", [order]))
    loaded.save()  # what loaddata does: save_base(raw=True)
    assert Order.objects.filter(pk=999).exists()
    assert Event.objects.count() == 0


def test_query_count_does_not_grow_with_subscribers(api_key, woken):
    def queries_for_one_status_change(subscribers: int) -> tuple[int, int]:
        Webhook.objects.all().delete()
        DeliveryAttempt.objects.all().delete()
        Webhook.objects.bulk_create(
            Webhook(api_key=api_key, url=f"https://h{n}.example.com/", events=ALL_ORDER_EVENTS)
            for n in range(subscribers)
        )
        order = Order.objects.create()
        dispatch.dispatch_pending()
        order.status = Order.Status.PAID
        with CaptureQueriesContext(connection) as saving, transaction.atomic():
            order.save()
        with CaptureQueriesContext(connection) as dispatching:
            dispatch.dispatch_pending()
        changed = DeliveryAttempt.objects.filter(event__type="order.status_changed")
        assert changed.count() == subscribers
        return len(saving), len(dispatching)

    counts = {n: queries_for_one_status_change(n) for n in (1, 10, 100)}
    assert counts[1] == counts[10] == counts[100], counts
