"""A dispatch builds its events' payloads together: what the source's DRF serializer reads
of related rows (an order's customer, items and their suppliers) is fetched once for the
batch, not once per event (django_webhooks.sources.prefetch)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from django_webhooks import sources
from django_webhooks.models import Event, Webhook
from django_webhooks.sources.prefetch import related_lookups
from django_webhooks.worker import dispatch
from example_project.shop.models import Customer, Order, OrderItem, Supplier
from example_project.shop.serializers import OrderSerializer


class _Flat(serializers.ModelSerializer):
    customer = serializers.PrimaryKeyRelatedField(read_only=True)  # the key the order holds
    email = serializers.CharField(source="customer.email", read_only=True)
    lines = serializers.SerializerMethodField()  # opaque: read as the method reads it

    class Meta:
        model = Order
        fields = ["id", "customer", "email", "lines"]

    def get_lines(self, order):
        return order.items.count()


class _ByCustomer(serializers.ModelSerializer):
    orders = serializers.StringRelatedField(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "orders"]


def test_the_lookups_are_what_the_serializer_follows():
    assert related_lookups(OrderSerializer(), Order) == ("customer", "items", "items__supplier")
    assert related_lookups(_Flat(), Order) == ("customer",)  # for the dotted email only
    assert related_lookups(_ByCustomer(), Customer) == ("orders",)


def _orders(count: int) -> None:
    supplier = Supplier.objects.create(code=f"s{Supplier.objects.count()}", name="ACME")
    for number in range(count):
        customer = Customer.objects.create(name=f"C{number}", email=f"c{number}@example.com")
        order = Order.objects.create(customer=customer)
        for line in range(2):
            OrderItem.objects.create(
                order=order, sku=f"A-{line}", name="Anvil", supplier=supplier if line else None
            )


def _dispatch_queries() -> int:
    with CaptureQueriesContext(connection) as captured:
        dispatch.dispatch_pending()
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_a_dispatch_reads_related_rows_once_for_all_its_events(api_key, woken):
    Webhook.objects.create(
        api_key=api_key, url="https://erp.example.com/", events=["order.created"]
    )
    _orders(2)
    _dispatch_queries()  # the webhooks' filters are read and compiled once
    _orders(2)
    two = _dispatch_queries()
    _orders(6)
    assert _dispatch_queries() == two
    built = Event.objects.filter(type="order.created")
    assert built.count() == 10
    for event in built:
        order = Order.objects.get(pk=event.object_pk)
        assert event.data["object"] == sources.for_model(Order).snapshot(order)
        assert event.data["object"]["customer"]["email"] == order.customer.email
        assert [item["supplier"] for item in event.data["object"]["items"]] == [
            None,
            order.items.get(sku="A-1").supplier.code,
        ]


@pytest.mark.django_db
def test_a_prefetch_that_fails_leaves_the_serializer_to_read_the_rows(
    api_key, woken, monkeypatch, caplog
):
    from django_webhooks.sources import prefetch

    tries = []

    def broken(*args, **kwargs):
        tries.append(1)
        with connection.cursor() as cursor:  # on PostgreSQL this aborts the transaction
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(prefetch, "prefetch_related_objects", broken)
    monkeypatch.setattr(prefetch, "_failed", set())
    Webhook.objects.create(
        api_key=api_key, url="https://erp.example.com/", events=["order.created"]
    )
    _orders(2)
    assert dispatch.dispatch_pending() == 2
    assert "Prefetching customer, items, items__supplier" in caplog.text
    for event in Event.objects.filter(type="order.created"):
        assert [item["sku"] for item in event.data["object"]["items"]] == ["A-0", "A-1"]
    _orders(1)
    assert dispatch.dispatch_pending() == 1
    assert tries == [1]  # not tried again in this process
