"""Event.sequence: per source object 1, 2, 3, … in recording order, given out by a counter row
advanced with one statement per recording batch; null for events about no object."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_webhooks import events, object_sequences, send_event, update
from django_webhooks.models import Event, ObjectSequence
from django_webhooks.recording import outbox
from example_project.shop.models import Order
from tests.teststore import settings as teststore
from tests.teststore.models import Payment, Purchase

ALL_ORDER_EVENTS = sorted(events.ORDER_EVENT_TYPES)
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.webhook(events=[*ALL_ORDER_EVENTS, "webhook.test"]),
]
TABLE = ObjectSequence._meta.db_table


def numbers(order: Order) -> list[tuple[str, int]]:
    """The (type, sequence) of the order's events, in recording order."""
    found = Event.objects.filter(object_model="shop.order", object_pk=str(order.pk))
    return list(found.order_by("sequence").values_list("type", "sequence"))


def counter_statements(queries) -> list[str]:
    return [q["sql"] for q in queries if TABLE in q["sql"]]


@pytest.fixture
def no_upsert(monkeypatch):
    """A database without INSERT … ON CONFLICT … RETURNING: the fallback runs."""
    monkeypatch.setattr(object_sequences, "upserts_returning", lambda connection: False)


def test_an_objects_events_are_numbered_one_by_one_across_transactions(webhook):
    order = Order.objects.create()
    order.status = Order.Status.PAID
    order.save()  # order.updated and order.status_changed, one batch
    order.note = "fragile"
    order.save()
    assert numbers(order) == [
        ("order.created", 1),
        ("order.updated", 2),
        ("order.status_changed", 3),
        ("order.updated", 4),
    ]
    other = Order.objects.create()
    assert numbers(other) == [("order.created", 1)]  # per object, not global
    assert ObjectSequence.objects.get(object_pk=str(order.pk)).value == 4


def test_a_batch_advances_every_counter_with_one_statement(webhook):
    orders = [Order.objects.create() for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        changed = update(Order.objects.filter(pk__in=[o.pk for o in orders]), status="paid")
    assert changed == 3
    (statement,) = counter_statements(queries)
    assert "ON CONFLICT" in statement
    assert "RETURNING" in statement
    for order in orders:  # created: 1; updated and status_changed of one save: 2, 3
        assert [number for _type, number in numbers(order)] == [1, 2, 3]


def test_events_of_one_object_in_one_batch_are_consecutive_in_recording_order(webhook):
    order = Order.objects.create()
    with CaptureQueriesContext(connection) as queries:
        outbox.record_events(
            [
                outbox.NewEvent(type="order.updated", object_model="shop.order", object_pk="x"),
                outbox.NewEvent(type="webhook.test", data={"object": {}}),
                outbox.NewEvent(
                    type="order.status_changed", object_model="shop.order", object_pk=str(order.pk)
                ),
                outbox.NewEvent(type="order.deleted", object_model="shop.order", object_pk="x"),
            ]
        )
    assert len(counter_statements(queries)) == 1
    recorded = Event.objects.order_by("id").values_list("type", "object_pk", "sequence")
    assert [row for row in recorded if row[0] != "order.created"] == [
        ("order.updated", "x", 1),
        ("webhook.test", "", None),
        ("order.status_changed", str(order.pk), 2),
        ("order.deleted", "x", 2),
    ]


def test_events_about_no_object_have_no_sequence_and_touch_no_counter(webhook):
    with CaptureQueriesContext(connection) as queries:
        event = send_event("webhook.test", {"object": {"ping": 1}})
    assert event is not None
    assert event.sequence is None
    assert Event.objects.get().sequence is None
    assert counter_statements(queries) == []
    assert not ObjectSequence.objects.exists()


def test_send_event_with_an_instance_takes_the_objects_next_number(webhook):
    order = Order.objects.create()
    event = send_event("order.updated", {"reason": "manual"}, instance=order)
    assert event is not None
    assert event.sequence == 2
    assert Event.objects.get(pk=event.pk).sequence == 2


def test_a_rolled_back_transaction_gives_its_numbers_back(webhook):
    order = Order.objects.create()
    with transaction.atomic():
        order.status = Order.Status.PAID
        order.save()
        transaction.set_rollback(True)
    order = Order.objects.get(pk=order.pk)
    order.note = "again"
    order.save()
    assert numbers(order) == [("order.created", 1), ("order.updated", 2)]


def test_the_fallback_numbers_the_same_without_the_upsert(webhook, no_upsert):
    order = Order.objects.create()
    with CaptureQueriesContext(connection) as queries:
        order.status = Order.Status.PAID
        order.save()
    assert not [sql for sql in counter_statements(queries) if "ON CONFLICT" in sql]
    assert any("FOR UPDATE" in sql for sql in counter_statements(queries)) == (
        connection.features.has_select_for_update
    )
    order.note = "x"
    order.save()
    assert numbers(order) == [
        ("order.created", 1),
        ("order.updated", 2),
        ("order.status_changed", 3),
        ("order.updated", 4),
    ]
    assert ObjectSequence.objects.get(object_pk=str(order.pk)).value == 4


def test_the_fallback_and_the_upsert_share_the_counters(webhook, monkeypatch):
    order = Order.objects.create()  # upsert: 1
    monkeypatch.setattr(object_sequences, "upserts_returning", lambda connection: False)
    update(Order.objects.filter(pk=order.pk), note="fallback")  # 2
    monkeypatch.undo()
    update(Order.objects.filter(pk=order.pk), note="upsert")  # 3
    assert [number for _type, number in numbers(order)] == [1, 2, 3]


def test_the_upsert_inside_the_events_insert_and_apart_share_the_counters(webhook, monkeypatch):
    order = Order.objects.create()  # 1: inside the INSERT on PostgreSQL
    monkeypatch.setattr(object_sequences, "FOLDED_AT_MOST", 0)  # as a bulk batch over it
    with CaptureQueriesContext(connection) as queries:
        update(Order.objects.filter(pk=order.pk), note="apart")  # 2
    (statement,) = counter_statements(queries)
    assert statement.startswith("INSERT INTO")
    assert Event._meta.db_table not in statement
    monkeypatch.undo()
    with CaptureQueriesContext(connection) as queries:
        update(Order.objects.filter(pk=order.pk), note="together")  # 3
    (statement,) = counter_statements(queries)
    assert (Event._meta.db_table in statement) == (connection.vendor == "postgresql")
    assert [number for _type, number in numbers(order)] == [1, 2, 3]


@override_settings(WEBHOOKS=teststore.WEBHOOKS | {"ALLOW_PRIVATE_DESTINATIONS": True})
@pytest.mark.webhook(events=["purchase.updated", "purchase.payment_changed"])
def test_an_event_taken_back_in_its_transaction_leaves_no_gap(webhook):
    with transaction.atomic():
        made = Purchase.objects.create(reference="P-1", total=Decimal("30.00"))
    with transaction.atomic():
        payment = Payment.objects.create(purchase=made, amount=Decimal("30.00"))  # paid: 1
        made.reference = "P-1b"
        made.save()  # purchase.updated: 2
        payment.delete()  # unpaid again: the payment event is taken back
    made.reference = "P-1c"
    made.save()
    recorded = Event.objects.filter(object_pk=str(made.pk)).order_by("sequence")
    assert list(recorded.values_list("type", "sequence")) == [
        ("purchase.updated", 1),
        ("purchase.updated", 2),
    ]
    assert ObjectSequence.objects.get(object_pk=str(made.pk)).value == 2


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["save", "send_event"])
def test_concurrent_transactions_of_one_object_are_numbered_in_commit_order(webhook, how):
    """The counter row's lock: the second waits for the first to commit, then takes the next."""
    order = Order.objects.create()
    first_recorded, release_first = threading.Event(), threading.Event()
    finished: list[str] = []
    errors: list[BaseException] = []

    def record(name: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                if how == "save":
                    mine = Order.objects.get(pk=order.pk)
                    mine.note = name
                    mine.save()
                else:
                    send_event("order.updated", {"by": name}, instance=order)
                if hold:
                    first_recorded.set()
                    assert release_first.wait(30)
            finished.append(name)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    first = threading.Thread(target=record, args=("first", True))
    first.start()
    assert first_recorded.wait(30)
    second = threading.Thread(target=record, args=("second", False))
    second.start()
    assert _waits_for_a_lock(), "the second transaction should wait for the first's lock"
    assert finished == []
    release_first.set()
    first.join(30)
    second.join(30)
    assert not errors, errors
    assert finished == ["first", "second"]  # the commit order
    updates = Event.objects.filter(object_pk=str(order.pk), type="order.updated")
    by_number = [_author(event) for event in updates.order_by("sequence")]
    assert by_number == ["first", "second"]
    assert sorted(updates.values_list("sequence", flat=True)) == [2, 3]


def _author(event: Event) -> str:
    if event.data:
        return event.data["by"]
    return json.loads(event.object_state)["note"]


def _waits_for_a_lock(timeout: float = 10.0) -> bool:
    """Whether another session of this database is waiting for a lock (polled, not slept)."""
    import time

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False
