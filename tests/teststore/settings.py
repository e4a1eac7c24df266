"""The test store's event sources: what its tests and their qcluster processes configure."""

SOURCES = {
    "purchase": {
        "model": "teststore.Purchase",
        "serializer": "tests.teststore.serializers.PurchaseSerializer",
        "ignore_fields": ["analytics_tracked"],
        "items": "lines",
        "status_fields": {
            "state": "purchase.state_changed",
            "payment_state": "purchase.payment_changed",
            "fulfilment": "purchase.fulfilment_changed",
        },
        "related": {
            "teststore.Payment": "purchase",
            "teststore.ShipmentLine": "shipment__purchase",
        },
    },
    "client": {"model": "teststore.Client", "events": ["deleted"]},
}

#: WEBHOOKS for the test store: its sources instead of the example's ORDER_MODEL.
WEBHOOKS = {"ORDER_MODEL": None, "ORDER_SERIALIZER": None, "SOURCES": SOURCES}
