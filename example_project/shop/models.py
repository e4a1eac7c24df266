from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class Customer(models.Model):
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.name


class Supplier(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        VOIDED = "voided", _("Voided")
        TIMEOUTED = "timeouted", _("Timed out")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")
        REFUNDED = "refunded", _("Refunded")
        PAID = "paid", _("Paid")
        COMPLETE = "complete", _("Complete")

    class PaymentStatus(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        PENDING = "pending", _("Pending")
        HELD = "held", _("Held")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Cancelled")
        TIMEOUTED = "timeouted", _("Timed out")

    class FulfillmentStatus(models.TextChoices):
        NOT_FULFILLED = "not_fulfilled", _("Not fulfilled")
        FULFILLED = "fulfilled", _("Fulfilled")

    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    payment_status = models.CharField(
        _("payment status"),
        max_length=20,
        choices=PaymentStatus.choices,
        default=PaymentStatus.REQUESTED,
    )
    fulfillment_status = models.CharField(
        _("fulfilment status"),
        max_length=20,
        choices=FulfillmentStatus.choices,
        default=FulfillmentStatus.NOT_FULFILLED,
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Order #{self.pk}"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="items"
    )
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


class ReceivedWebhook(models.Model):
    """What the demo receiver got: the example's stand-in for a third party's endpoint."""

    received_at = models.DateTimeField(auto_now_add=True)
    event_id = models.CharField(max_length=40, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    attempt = models.CharField(max_length=10, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    verified = models.BooleanField(default=False)
    verification_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("received webhook (demo receiver)")
        verbose_name_plural = _("received webhooks (demo receiver)")

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
