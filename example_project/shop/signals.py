"""The store's own event: ``customer.deleted`` when a customer's data is removed."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from django_webhooks import send_event

from .models import Customer


@receiver(post_delete, sender=Customer, dispatch_uid="shop.customer_deleted")
def customer_deleted(sender, instance: Customer, using: str, **kwargs) -> None:
    send_event("customer.deleted", {"object": {"id": instance.pk}}, using=using)
