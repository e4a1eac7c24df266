"""Per-webhook filters (issue 8): each operator, item filtering, validation, and the outbox."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from django_webhooks import filters
from django_webhooks.models import DeliveryAttempt, Webhook
from django_webhooks.worker import dispatch
from example_project.shop.models import Order, OrderItem, Supplier

ORDER = {
    "object": {
        "id": 7,
        "status": "paid",
        "note": "",
        "customer": {"id": 3, "email": "ada@example.com", "phone": None},
        "items": [
            {"sku": "AC-1", "supplier": "acme", "quantity": 2},
            {"sku": "GL-9", "supplier": "globex", "quantity": 1},
            {"sku": "AC-7", "supplier": "acme", "quantity": 5},
        ],
    }
}


def decide(spec):
    filters.validate(spec)
    return filters.compile_filter(spec).decide(ORDER)


@pytest.mark.parametrize(
    ("conditions", "delivers"),
    [
        ({"status": "paid"}, True),
        ({"status": "pending"}, False),
        ({"status": {"equals": "paid"}}, True),
        ({"id": 7}, True),
        ({"status": {"in": ["paid", "complete"]}}, True),
        ({"status": {"in": ["pending", "cancelled"]}}, False),
        ({"customer.email": {"exists": True}}, True),
        ({"customer.phone": {"exists": True}}, False),  # null is no value
        ({"customer.phone": {"exists": False}}, True),
        ({"customer.fax": {"exists": False}}, True),
        ({"customer.email": {"prefix": "ada@"}}, True),
        ({"customer.email": {"prefix": "bob@"}}, False),
        ({"customer.id": {"prefix": "3"}}, False),  # prefix only matches text
        ({"status": "paid", "customer.id": 4}, False),  # all must hold
        ({"customer.email.domain": "x"}, False),  # a path through a text finds nothing
    ],
)
def test_object_conditions(conditions, delivers):
    assert decide({"object": conditions}).deliver is delivers


def test_no_filter_delivers_everything_unchanged():
    assert decide({}) == filters.Decision(deliver=True, object_override=None)


def test_item_filter_keeps_only_matching_lines():
    decision = decide({"items": {"supplier": "acme"}})
    assert decision.deliver
    assert [item["sku"] for item in decision.object_override["items"]] == ["AC-1", "AC-7"]
    assert decision.object_override["customer"] == ORDER["object"]["customer"]
    assert len(ORDER["object"]["items"]) == 3  # the event's own data is untouched


def test_item_filter_by_sku_prefix_and_quantity():
    decision = decide({"items": {"sku": {"prefix": "AC-"}, "quantity": {"in": [5, 6]}}})
    assert [item["sku"] for item in decision.object_override["items"]] == ["AC-7"]


def test_item_filter_that_keeps_every_line_sends_the_event_as_it_is():
    assert decide({"items": {"quantity": {"exists": True}}}) == filters.Decision(deliver=True)


def test_item_filter_that_keeps_no_line_sends_nothing():
    assert decide({"items": {"supplier": "initech"}}).deliver is False


def test_item_filter_on_an_object_without_items_sends_nothing():
    compiled = filters.compile_filter({"items": {"supplier": "acme"}})
    assert compiled.decide({"object": {"id": 1}}).deliver is False


def test_object_and_item_conditions_combine():
    assert decide({"object": {"status": "pending"}, "items": {"supplier": "acme"}}).deliver is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([], "A filter is an object"),
        ({"objects": {}}, "Unknown filter key(s): objects"),
        ({"object": []}, "“object” must map paths to conditions"),
        ({"object": {"status": {"like": "p%"}}}, "unknown operator “like”"),
        ({"object": {"status": {"in": "paid"}}}, "“in” needs a non-empty list"),
        ({"object": {"status": {"in": []}}}, "“in” needs a non-empty list"),
        ({"object": {"status": {"exists": "yes"}}}, "“exists” needs true or false"),
        ({"object": {"sku": {"prefix": 3}}}, "“prefix” needs a non-empty text"),
        ({"object": {"status": {"equals": ["a"]}}}, "“equals” compares with a single value"),
        ({"object": {"status": {"in": ["a"], "equals": "a"}}}, "give exactly one operator"),
        ({"object": {"customer..email": 1}}, "is not a path"),
        ({"object": {"items[0].sku": 1}}, "is not a path"),
        ({"items": {}}, "“items” needs at least one condition"),
    ],
)
def test_mistakes_get_a_clear_message(spec, message):
    with pytest.raises(ValidationError) as raised:
        filters.validate(spec)
    assert any(message in text for text in raised.value.messages), raised.value.messages


def test_every_mistake_is_reported_at_once():
    with pytest.raises(ValidationError) as raised:
        filters.validate({"object": {"a": {"like": 1}, "b": {"in": 2}}, "extra": 1})
    assert len(raised.value.messages) == 3


def test_compiled_once_per_filter():
    filters._compile_cached.cache_clear()
    spec = {"object": {"status": "paid"}}
    for _ in range(100):
        filters.compile_filter(dict(spec)).decide(ORDER)
    assert filters._compile_cached.cache_info().misses == 1


@pytest.mark.django_db(transaction=True)
def test_filtered_out_webhooks_cost_no_attempt_row(api_key, woken):
    acme = Supplier.objects.create(code="acme", name="ACME")
    globex = Supplier.objects.create(code="globex", name="Globex")
    only_acme = Webhook.objects.create(
        api_key=api_key,
        url="https://acme.example.com/",
        events=["order.created"],
        filter={"items": {"supplier": "acme"}},
    )
    only_paid = Webhook.objects.create(
        api_key=api_key,
        url="https://erp.example.com/",
        events=["order.created"],
        filter={"object": {"status": {"in": ["paid", "complete"]}}},
    )
    everything = Webhook.objects.create(
        api_key=api_key, url="https://all.example.com/", events=["order.created"]
    )
    from django.db import transaction

    with transaction.atomic():
        mixed = Order.objects.create()
        OrderItem.objects.create(order=mixed, sku="AC-1", name="Anvil", supplier=acme)
        OrderItem.objects.create(order=mixed, sku="GL-1", name="Globe", supplier=globex)
    with transaction.atomic():
        globex_only = Order.objects.create(status="paid")
        OrderItem.objects.create(order=globex_only, sku="GL-2", name="Globe", supplier=globex)
    dispatch.dispatch_pending()

    def attempts(webhook):
        return list(DeliveryAttempt.objects.filter(webhook=webhook).order_by("id"))

    (acme_attempt,) = attempts(only_acme)
    assert acme_attempt.event.data["object"]["id"] == mixed.pk
    assert [i["sku"] for i in acme_attempt.object_override["items"]] == ["AC-1"]
    (paid_attempt,) = attempts(only_paid)
    assert paid_attempt.event.data["object"]["id"] == globex_only.pk
    assert paid_attempt.object_override is None
    assert len(attempts(everything)) == 2


@pytest.mark.django_db
def test_the_model_refuses_a_bad_filter(api_key):
    webhook = Webhook(
        api_key=api_key,
        url="https://a.example.com/",
        events=["order.created"],
        filter={"object": {"status": {"like": "x"}}},
    )
    with pytest.raises(ValidationError) as raised:
        webhook.full_clean()
    assert "filter" in raised.value.message_dict
