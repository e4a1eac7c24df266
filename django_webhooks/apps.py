from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "django_webhooks"
    label = "django_webhooks"
    verbose_name = _("Settings")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.apps import apps
        from django.core.signals import setting_changed

        from . import checks, notifications  # noqa: F401 - checks register themselves
        from .recording import tracking

        tracking.connect()
        notifications.connect()
        setting_changed.connect(
            _reconnect_on_settings_change, dispatch_uid="django_webhooks.settings"
        )
        if apps.is_installed("django_q"):  # if not, a system check says so
            from django_q.signals import post_spawn

            from .worker.ticker import start_ticker

            post_spawn.connect(start_ticker, dispatch_uid="django_webhooks.ticker")


def _reconnect_on_settings_change(setting: str, **kwargs) -> None:
    if setting == "WEBHOOKS":
        from .recording import tracking

        tracking.connect()
