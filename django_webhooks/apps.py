from typing import Any

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

        from . import checks, events, notifications, sources, wakeup  # noqa: F401 - checks register
        from .recording import tracking

        events.add_provider(sources.event_types)
        tracking.connect()
        notifications.connect()
        wakeup.quiet_enqueue_logs()
        setting_changed.connect(
            _reconnect_on_settings_change, dispatch_uid="django_webhooks.settings"
        )
        if apps.is_installed("django_q"):  # if not, a system check says so
            from django_q.signals import post_spawn

            from .worker.ticker import start_ticker

            post_spawn.connect(start_ticker, dispatch_uid="django_webhooks.ticker")


def _reconnect_on_settings_change(setting: str, **kwargs: Any) -> None:
    if setting == "WEBHOOKS":
        from .recording import tracking

        tracking.connect()  # rebuilds the sources too
