from decimal import Decimal

from django.db import models
from django.db.models import Sum
from django.utils import timezone
from django.utils.functional import cached_property


class Client(models.Model):
    full_name = models.CharField(max_length=100)
    mail = models.EmailField(blank=True)

    def __str__(self) -> str:
        return self.full_name


class Purchase(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    buyer = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL)
    state = models.CharField(max_length=20, default="placed")
    total = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    analytics_tracked = models.BooleanField(default=False)
    placed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.reference

    @cached_property
    def amount_paid(self) -> Decimal:
        captured = self.payments.filter(kind="capture").aggregate(s=Sum("amount"))["s"] or 0
        refunded = self.payments.filter(kind="refund").aggregate(s=Sum("amount"))["s"] or 0
        return Decimal(captured) - Decimal(refunded)

    @cached_property
    def payment_state(self) -> str:
        if self.amount_paid <= 0:
            return "refunded" if self.payments.exists() else "unpaid"
        return "paid" if self.amount_paid >= self.total else "partially_paid"

    def fulfilment(self) -> str:
        ordered = self.lines.aggregate(q=Sum("quantity"))["q"] or 0
        shipped = (
            ShipmentLine.objects.filter(shipment__purchase=self).aggregate(q=Sum("quantity"))["q"]
            or 0
        )
        if not shipped:
            return "unshipped"
        return "shipped" if shipped >= ordered else "partly_shipped"


class PurchaseLine(models.Model):
    purchase = models.ForeignKey(Purchase, related_name="lines", on_delete=models.CASCADE)
    sku = models.CharField(max_length=20)
    supplier = models.CharField(max_length=20, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))

    def __str__(self) -> str:
        return self.sku


class Payment(models.Model):
    purchase = models.ForeignKey(Purchase, related_name="payments", on_delete=models.CASCADE)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    kind = models.CharField(max_length=10, default="capture")

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class Shipment(models.Model):
    purchase = models.ForeignKey(Purchase, related_name="shipments", on_delete=models.CASCADE)
    carrier = models.CharField(max_length=20, default="post")

    def __str__(self) -> str:
        return self.carrier


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, related_name="lines", on_delete=models.CASCADE)
    line = models.ForeignKey(PurchaseLine, on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.line_id} x{self.quantity}"


class RushPurchase(Purchase):
    """A proxy, as frameworks and stores use them: its saves are the purchase's."""

    class Meta:
        proxy = True
