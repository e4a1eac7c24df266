"""What ``data.object`` looks like for the example store's orders (WEBHOOKS["ORDER_SERIALIZER"])."""

from rest_framework import serializers

from .models import Customer, Order, OrderItem


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "email"]


class OrderItemSerializer(serializers.ModelSerializer):
    supplier = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = OrderItem
        fields = ["id", "sku", "name", "quantity", "unit_price", "supplier"]


class OrderSerializer(serializers.ModelSerializer):
    customer = CustomerSerializer(read_only=True)
    items = OrderItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "payment_status",
            "fulfillment_status",
            "currency",
            "note",
            "customer",
            "items",
            "created_at",
            "updated_at",
        ]
