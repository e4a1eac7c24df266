from django.contrib import admin

from .models import Customer, Order, OrderItem, ReceivedWebhook, Supplier


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 1


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "customer",
        "status",
        "payment_status",
        "fulfillment_status",
        "created_at",
    ]
    list_filter = ["status", "payment_status", "fulfillment_status"]
    inlines = [OrderItemInline]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "created_at"]
    search_fields = ["name", "email"]


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


@admin.register(ReceivedWebhook)
class ReceivedWebhookAdmin(admin.ModelAdmin):
    list_display = ["received_at", "event_type", "event_id", "attempt", "verified"]
    readonly_fields = [field.name for field in ReceivedWebhook._meta.fields]
