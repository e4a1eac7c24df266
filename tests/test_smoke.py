import pytest

from django_webhooks import delivery
from django_webhooks.models import DeliveryAttempt, Webhook
from example_project.shop.models import Order


@pytest.mark.django_db(transaction=True)
def test_order_created_is_delivered(receiver, api_key, monkeypatch):
    woken = []
    monkeypatch.setattr("django_webhooks.queue.wake", lambda using="default": woken.append(using))
    Webhook.objects.create(api_key=api_key, url=receiver.url("/ok"), events=["order.created"])
    order = Order.objects.create()
    assert woken
    stats = delivery.run()
    assert stats.succeeded == 1
    (request,) = receiver.received("/ok")
    assert request.headers["X-Webhook-Event"] == "order.created"
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status == "succeeded"
    assert str(order.pk) in request.body.decode()
