"""Every wrong event source, and a missing or unusable Q_CLUSTER, is a check with a stable id."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_webhooks import checks as webhook_checks
from tests.teststore.settings import SOURCES

PURCHASE = SOURCES["purchase"]


def errors_for(sources) -> list:
    with override_settings(WEBHOOKS={"SOURCES": sources}):
        return webhook_checks.check_settings()


def ids_for(sources) -> list[str]:
    return sorted(message.id for message in errors_for(sources))


def test_the_test_stores_sources_pass():
    assert ids_for(SOURCES) == []


@pytest.mark.parametrize(
    ("sources", "check_id", "words"),
    [
        ({}, "E017", "non-empty dict"),
        ({"Order": {"model": "teststore.Purchase"}}, "E017", "lower-case word"),
        ({"order.v2": {"model": "teststore.Purchase"}}, "E017", "lower-case word"),
        ({"order": "teststore.Purchase"}, "E017", "must be a dict"),
        ({"order": {}}, "E018", "is not an installed model"),
        ({"order": {"model": "teststore.Nope"}}, "E018", "'teststore.Nope'"),
        ({"order": {"model": "teststore.Purchase", "evnts": []}}, "E019", "'evnts'"),
        ({"order": {"model": "teststore.Purchase", "events": ["placed"]}}, "E020", "subset"),
        (
            {"order": {"model": "teststore.Purchase", "ignore_fields": ["tracked"]}},
            "E021",
            "no field 'tracked'",
        ),
        (
            {"order": {"model": "teststore.Purchase", "status_fields": {"nope": "order.x"}}},
            "E022",
            "no field, property or method 'nope'",
        ),
        (
            {
                "purchase": {
                    "model": "teststore.Purchase",
                    "status_fields": {"state": "order.state_changed"},
                }
            },
            "E023",
            "start with 'purchase.'",
        ),
        (
            {
                "purchase": {
                    "model": "teststore.Purchase",
                    "status_fields": {"state": "purchase.Changed!"},
                }
            },
            "E023",
            "not an event type",
        ),
        (
            {"purchase": {"model": "teststore.Purchase", "related": {"teststore.Nope": "x"}}},
            "E024",
            "not an installed model",
        ),
        (
            {
                "purchase": {
                    "model": "teststore.Purchase",
                    "related": {"teststore.ShipmentLine": "shipment__carrier"},
                }
            },
            "E024",
            "no foreign key 'carrier'",
        ),
        (
            {
                "purchase": {
                    "model": "teststore.Purchase",
                    "related": {"teststore.ShipmentLine": "line"},
                }
            },
            "E024",
            "leads to teststore.PurchaseLine",
        ),
        (
            {"a": {"model": "teststore.Purchase"}, "b": {"model": "teststore.Purchase"}},
            "E025",
            "model of both 'a' and 'b'",
        ),
        (
            {"purchase": {"model": "teststore.Purchase", "serializer": "tests.nope.Serializer"}},
            "E027",
            "cannot be imported",
        ),
        ({"purchase": {"model": "teststore.Purchase", "items": ""}}, "E029", "lines"),
    ],
)
def test_each_wrong_source_is_an_error_naming_the_mistake(sources, check_id, words):
    (error,) = errors_for(sources)
    assert error.id == f"django_webhooks.{check_id}"
    assert words in error.msg


def test_a_method_that_needs_arguments_is_no_status():
    from tests.teststore.models import Purchase

    Purchase.needs_arguments = lambda self, when: "x"
    try:
        (error,) = errors_for(
            {"p": {"model": "teststore.Purchase", "status_fields": {"needs_arguments": "p.x"}}}
        )
    finally:
        del Purchase.needs_arguments
    assert error.id == "django_webhooks.E022"
    assert "needs arguments" in error.msg


def test_order_model_and_sources_together_are_ambiguous():
    with override_settings(WEBHOOKS={"ORDER_MODEL": "shop.Order", "SOURCES": SOURCES}):
        (error,) = webhook_checks.check_settings()
    assert error.id == "django_webhooks.E026"


def test_order_model_on_a_model_without_the_seed_fields_points_to_sources():
    with override_settings(WEBHOOKS={"ORDER_MODEL": "teststore.Purchase"}):
        (error,) = webhook_checks.check_settings()
    assert error.id == "django_webhooks.E028"
    assert "SOURCES" in error.hint


def test_a_bad_source_never_fails_at_import_or_on_a_save(api_key):
    # Nothing raises: the source is left out, the check above says why.
    from django_webhooks import events
    from tests.teststore.models import Purchase

    with override_settings(WEBHOOKS={"SOURCES": {"purchase": {"model": "teststore.Nope"}}}):
        assert not [t for t in events.get_event_types() if t.type.startswith("purchase.")]
        Purchase(reference="X").save()


@pytest.mark.parametrize("q_cluster", [None, {}, "orm"])
def test_a_missing_q_cluster_is_an_error(settings, q_cluster):
    settings.Q_CLUSTER = q_cluster
    (error,) = webhook_checks.check_queue()
    assert error.id == "django_webhooks.E030"
    assert "qcluster" in error.msg


def test_an_orm_broker_on_an_unknown_database_is_an_error(settings):
    settings.Q_CLUSTER = {"name": "x", "orm": "queue"}
    (error,) = webhook_checks.check_queue()
    assert error.id == "django_webhooks.E031"


def test_the_redis_broker_without_the_redis_package_is_an_error(settings, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    for q_cluster in ({"name": "x"}, {"name": "x", "redis": "redis://127.0.0.1:6379/0"}):
        settings.Q_CLUSTER = q_cluster
        (error,) = webhook_checks.check_queue()
        assert error.id == "django_webhooks.E031"
        assert "pip install" in error.hint
