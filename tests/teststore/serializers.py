from rest_framework import serializers

from .models import Client, Purchase, PurchaseLine


class ClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "full_name", "mail"]


class PurchaseLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = PurchaseLine
        fields = ["id", "sku", "supplier", "quantity", "price"]


class PurchaseSerializer(serializers.ModelSerializer):
    buyer = ClientSerializer(read_only=True)
    lines = PurchaseLineSerializer(many=True, read_only=True)
    payment_state = serializers.CharField(read_only=True)
    fulfilment = serializers.CharField(read_only=True)

    class Meta:
        model = Purchase
        fields = [
            "id",
            "reference",
            "state",
            "total",
            "payment_state",
            "fulfilment",
            "placed_at",
            "buyer",
            "lines",
        ]
