import pytest

from django_webhooks.models import DeliveryAttempt, Webhook
from example_project.shop.models import Order
from tests.cluster import Cluster
from tests.receiver import Status

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_retry_through_real_cluster(receiver, api_key):
    url = receiver.script("/flaky", [Status(500), Status(200)])
    Webhook.objects.create(api_key=api_key, url=url, events=["order.created"])
    with Cluster({"RETRY_DELAYS": [1, 1, 1, 1, 1], "TIMEOUT": 1}) as cluster:
        Order.objects.create()
        first, second = receiver.wait_for(2, "/flaky", timeout=15)
    print("\n".join(cluster.output[-20:]))
    gap = second.arrived_at - first.arrived_at
    print("gap", gap)
    assert gap >= 1.0
    assert list(DeliveryAttempt.objects.order_by("number").values_list("status", flat=True)) == [
        "failed",
        "succeeded",
    ]
