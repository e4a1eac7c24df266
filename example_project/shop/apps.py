from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopConfig(AppConfig):
    name = "example_project.shop"
    label = "shop"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Shop")

    def ready(self) -> None:
        from django_webhooks import register_event

        from . import signals  # noqa: F401 - connects the customer.deleted sender

        register_event(
            "customer.deleted",
            _("Customer data removed"),
            # What signals.customer_deleted sends: only the id, the rest is gone.
            schema={
                "type": "object",
                "properties": {
                    "object": {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}},
                        "required": ["id"],
                        "additionalProperties": False,
                    }
                },
                "required": ["object"],
                "additionalProperties": False,
            },
            example={"object": {"id": 77}},
        )
