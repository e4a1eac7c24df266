"""What django-webhooks needs to know about a django-oscar order (docs/recipes/oscar.md).

``WEBHOOKS["SOURCES"]`` names these by dotted path: the payload's serializer, and the two
statuses Oscar keeps no field for, derived from the rows Oscar writes for them.
"""

from decimal import Decimal

from django.db.models import Sum
from oscar.core.loading import get_model
from rest_framework import serializers

Line = get_model("order", "Line")
Order = get_model("order", "Order")
PaymentEvent = get_model("order", "PaymentEvent")
ShippingEventQuantity = get_model("order", "ShippingEventQuantity")

# Codes (slugs of the names) of the shop's PaymentEventTypes and ShippingEventTypes.
AUTHORISED = {"authorised"}
CAPTURED = {"paid", "settled"}
REFUNDED = {"refunded"}
SHIPPED = {"shipped"}


def payment_status(order):
    """unpaid, authorised, partially_paid, paid or refunded: from the order's payment events."""
    totals = dict(
        PaymentEvent.objects.filter(order=order)
        .values_list("event_type__code")
        .annotate(total=Sum("amount"))
    )

    def amount(codes):
        return sum((totals.get(code, Decimal(0)) for code in codes), Decimal(0))

    captured, refunded = amount(CAPTURED), amount(REFUNDED)
    if refunded and refunded >= captured:
        return "refunded"
    if captured:
        return "paid" if captured - refunded >= order.total_incl_tax else "partially_paid"
    return "authorised" if amount(AUTHORISED) else "unpaid"


def fulfillment_status(order):
    """not_fulfilled, partially_fulfilled or fulfilled: shipped quantities against the lines'."""
    ordered = order.lines.aggregate(quantity=Sum("quantity"))["quantity"] or 0
    shipped = ShippingEventQuantity.objects.filter(
        event__order=order, event__event_type__code__in=SHIPPED
    ).aggregate(quantity=Sum("quantity"))["quantity"]
    if not shipped:
        return "not_fulfilled"
    return "fulfilled" if shipped >= ordered else "partially_fulfilled"


class LineSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Line
        fields = [
            "id",
            "partner",
            "partner_sku",
            "title",
            "upc",
            "quantity",
            "unit_price_incl_tax",
            "line_price_incl_tax",
            "status",
        ]


class OrderSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True)
    payment_status = serializers.SerializerMethodField()
    fulfillment_status = serializers.SerializerMethodField()
    lines = LineSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "status",
            "payment_status",
            "fulfillment_status",
            "currency",
            "total_incl_tax",
            "total_excl_tax",
            "shipping_incl_tax",
            "shipping_method",
            "date_placed",
            "email",
            "lines",
        ]

    def get_payment_status(self, order):
        return payment_status(order)

    def get_fulfillment_status(self, order):
        return fulfillment_status(order)
