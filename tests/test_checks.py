"""Every wrong setting a store can make has a system check with a stable id."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import checks
from django.test import override_settings

from django_webhooks import checks as webhook_checks


def ids(messages) -> list[str]:
    return sorted(message.id for message in messages)


def run_settings_checks(**webhooks) -> list[str]:
    with override_settings(WEBHOOKS={"ORDER_MODEL": "shop.Order", **webhooks}):
        return ids(webhook_checks.check_settings())


@pytest.mark.django_db
def test_the_test_settings_pass_every_check():
    assert [message for message in checks.run_checks() if not message.is_silenced()] == []


def test_webhooks_must_be_a_dict():
    with override_settings(WEBHOOKS=["ORDER_MODEL"]):
        assert ids(webhook_checks.check_settings()) == ["django_webhooks.E001"]


def test_unknown_key_is_named():
    with override_settings(WEBHOOKS={"ORDER_MODEL": "shop.Order", "TIMEOUTS": 5}):
        (error,) = webhook_checks.check_settings()
    assert error.id == "django_webhooks.E002"
    assert "'TIMEOUTS'" in error.msg


def test_missing_order_model_warns():
    with override_settings(WEBHOOKS={}):
        assert ids(webhook_checks.check_settings()) == ["django_webhooks.W001"]


@pytest.mark.parametrize("label", ["shop.Nope", "shop", "nope.Order", 42])
def test_order_model_must_be_an_installed_model(label):
    assert run_settings_checks(ORDER_MODEL=label) == ["django_webhooks.E003"]


@pytest.mark.parametrize(
    "spec",
    ["example_project.shop.nope.Serializer", "example_project.shop.models.Order.status", 3],
)
def test_order_serializer_must_be_a_serializer_or_callable(spec):
    assert run_settings_checks(ORDER_SERIALIZER=spec) == ["django_webhooks.E004"]


@pytest.mark.parametrize(
    "spec",
    [
        "example_project.shop.serializers.OrderSerializer",
        "django_webhooks.snapshots.concrete_fields_snapshot",
    ],
)
def test_order_serializer_accepts_serializers_and_callables(spec):
    assert run_settings_checks(ORDER_SERIALIZER=spec) == []


@pytest.mark.parametrize("timeout", [0, -1, "5", True, None, float("inf"), float("nan"), 301])
def test_timeout_must_be_positive(timeout):
    assert run_settings_checks(TIMEOUT=timeout) == ["django_webhooks.E005"]


@pytest.mark.parametrize(
    "delays",
    [[60, -1], ["60"], 60, [True], None, [float("inf")], [float("nan")], [1e12], [1] * 1001],
)
def test_retry_delays_must_be_non_negative_numbers(delays):
    assert run_settings_checks(RETRY_DELAYS=delays) == ["django_webhooks.E006"]


def test_retry_delays_may_be_empty_or_fractional():
    assert run_settings_checks(RETRY_DELAYS=[]) == []
    assert run_settings_checks(RETRY_DELAYS=(0.5, 1)) == []


@pytest.mark.parametrize("codes", [[200, 99], ["200"], 200, [600], [True]])
def test_status_codes_must_be_http_codes(codes):
    assert run_settings_checks(SUCCESS_STATUS_CODES=codes) == ["django_webhooks.E007"]
    assert run_settings_checks(DEACTIVATE_STATUS_CODES=codes) == ["django_webhooks.E007"]


def test_a_code_cannot_both_succeed_and_deactivate():
    assert run_settings_checks(SUCCESS_STATUS_CODES=[200, 410]) == ["django_webhooks.E008"]


@pytest.mark.parametrize("phrase", ["", "   ", None, 1])
def test_unsubscribe_phrase_must_be_text(phrase):
    assert run_settings_checks(UNSUBSCRIBE_PHRASE=phrase) == ["django_webhooks.E009"]


@pytest.mark.parametrize("name", ["ALLOW_PRIVATE_DESTINATIONS", "NOTIFY_ADMINS"])
def test_flags_must_be_booleans(name):
    assert run_settings_checks(**{name: "yes"}) == ["django_webhooks.E010"]


@pytest.mark.parametrize("name", ["CONCURRENCY", "CONCURRENCY_PER_WEBHOOK", "RETENTION_DAYS"])
@pytest.mark.parametrize("value", [0, -3, 1.5, "4", True])
def test_counts_must_be_positive_integers(name, value):
    assert run_settings_checks(**{name: value}) == ["django_webhooks.E011"]


@pytest.mark.parametrize("rate", ["fast", "10/fortnight", 10])
def test_throttle_rate_must_be_a_drf_rate(rate):
    assert run_settings_checks(API_THROTTLE_RATE=rate) == ["django_webhooks.E012"]


def test_throttle_rate_may_be_off():
    assert run_settings_checks(API_THROTTLE_RATE=None) == []
    assert run_settings_checks(API_THROTTLE_RATE="100/hour") == []


def test_queue_cluster_must_be_a_name():
    assert run_settings_checks(QUEUE_CLUSTER=5) == ["django_webhooks.E015"]


def test_signing_secret_grace_must_be_non_negative():
    assert run_settings_checks(SIGNING_SECRET_GRACE_HOURS=-1) == ["django_webhooks.E016"]


def test_private_destinations_warn_in_production_and_in_debug_alike():
    for debug in (False, True):
        with override_settings(DEBUG=debug):
            assert run_settings_checks(ALLOW_PRIVATE_DESTINATIONS=True) == ["django_webhooks.W004"]
    assert run_settings_checks(ALLOW_PRIVATE_DESTINATIONS=False) == []


@pytest.mark.parametrize(
    ("app", "check_id"),
    [("rest_framework", "django_webhooks.E013"), ("django_q", "django_webhooks.E014")],
)
def test_required_apps_must_be_installed(app, check_id):
    installed = [name for name in settings.INSTALLED_APPS if name != app]
    with override_settings(INSTALLED_APPS=installed):
        assert ids(webhook_checks.check_installed_apps()) == [check_id]


@pytest.fixture
def sqlite_queue(monkeypatch):
    def configure(**options):
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": "q.sqlite3", "OPTIONS": options}
        monkeypatch.setitem(settings.DATABASES, "queue", database)
        return override_settings(Q_CLUSTER={"orm": "queue", "timeout": 60, "retry": 120})

    return configure


def test_sqlite_orm_broker_without_wal_or_immediate_warns(sqlite_queue):
    with sqlite_queue():
        assert ids(webhook_checks.check_queue()) == ["django_webhooks.W002", "django_webhooks.W005"]
    with sqlite_queue(init_command="PRAGMA journal_mode=WAL;"):
        assert ids(webhook_checks.check_queue()) == ["django_webhooks.W005"]
    with sqlite_queue(init_command="PRAGMA journal_mode = wal;", transaction_mode="IMMEDIATE"):
        assert ids(webhook_checks.check_queue()) == []


def test_queue_timeout_shorter_than_a_run_warns():
    with override_settings(Q_CLUSTER={"redis": {}, "timeout": 10, "retry": 20}):
        (warning,) = webhook_checks.check_queue()
    assert warning.id == "django_webhooks.W003"
    with override_settings(Q_CLUSTER={"redis": {}, "timeout": 60, "retry": 90}):
        assert webhook_checks.check_queue() == []
