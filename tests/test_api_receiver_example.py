"""docs/examples/receiver.py against real signed deliveries from the engine, so it cannot rot."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from django_webhooks.models import ApiKey, DeliveryAttempt
from django_webhooks.worker import engine
from tests.api_support import url
from tests.factories import make_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "receiver.py"


def load_example():
    spec = importlib.util.spec_from_file_location("receiver_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example():
    return load_example()


@pytest.fixture
def integrator():
    """A third party that got its key and, by rotating, its signing secret."""
    api_key, client = make_key("Accounting")
    secret = client.post(url("signing-secret-rotate")).json()["signing_secret"]
    return api_key, client, secret


def deliver_test_event(client, destination: str) -> None:
    created = client.post(
        url("webhook-list"), {"url": destination, "events": ["order.created"]}, format="json"
    )
    assert created.status_code == 201
    assert client.post(url("webhook-test", created.json()["id"])).status_code == 202
    engine.run()


def test_handle_accepts_a_real_delivery(example, integrator, receiver):
    _key, client, secret = integrator
    deliver_test_event(client, receiver.url("/accounting"))
    (received,) = receiver.wait_for(1, "/accounting")

    event = example.handle(received.body, received.headers, secret)

    assert event["id"] == received.headers["webhook-id"]
    assert event["type"] == "webhook.test"
    assert event["data"]["object"]["url"] == receiver.url("/accounting")


def test_handle_refuses_a_tampered_body_and_a_wrong_secret(example, integrator, receiver):
    _key, client, secret = integrator
    deliver_test_event(client, receiver.url("/accounting"))
    (received,) = receiver.wait_for(1, "/accounting")
    other_key, _client = make_key("Someone else")

    with pytest.raises(WebhookVerificationError):
        example.handle(received.body.replace(b"test", b"tost"), received.headers, secret)
    with pytest.raises(WebhookVerificationError):
        example.handle(received.body, received.headers, other_key.signing_secret)


def test_both_secrets_verify_while_a_rotation_is_in_grace(example, integrator, receiver):
    api_key, client, old_secret = integrator
    new_secret = client.post(url("signing-secret-rotate")).json()["signing_secret"]
    deliver_test_event(client, receiver.url("/accounting"))
    (received,) = receiver.wait_for(1, "/accounting")

    assert example.handle(received.body, received.headers, new_secret)["type"] == "webhook.test"
    assert example.handle(received.body, received.headers, old_secret)["type"] == "webhook.test"
    assert ApiKey.objects.get(pk=api_key.pk).signing_secret == new_secret


def test_the_example_server_acknowledges_deliveries_and_handles_each_event_once(
    example, integrator
):
    _key, client, secret = integrator
    handled = []
    server = example.make_server(secret, handled.append, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address
        deliver_test_event(client, f"http://{host}:{port}/")
        first = DeliveryAttempt.objects.get()
        assert client.post(url("attempt-redeliver", first.pk)).status_code == 202
        engine.run()
    finally:
        server.shutdown()
        server.server_close()

    attempts = DeliveryAttempt.objects.order_by("number")
    assert [(a.number, a.status, a.response_status) for a in attempts] == [
        (1, "succeeded", 200),
        (2, "succeeded", 200),
    ]
    assert [event["id"] for event in handled] == [first.event_id]


def test_the_example_server_refuses_a_delivery_it_cannot_verify(example, integrator):
    _key, client, _secret = integrator
    server = example.make_server("whsec_" + "A" * 43 + "=", lambda event: None, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address
        deliver_test_event(client, f"http://{host}:{port}/")
    finally:
        server.shutdown()
        server.server_close()

    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status, attempt.response_status) == ("failed", 401)
    assert attempt.webhook.is_active is False  # as the example's docstring warns
