"""Mail the site's ADMINS when the delivery policy switches a webhook off (``NOTIFY_ADMINS``).

Stripe and Shopify warn their users when an endpoint is disabled; a store owner should not
learn it from a partner asking where the orders went. The engine sends the signals after its
transaction commits, so a mail describes something that really happened.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import mail_admins
from django.utils.translation import gettext as _

from .conf import webhook_settings
from .models import DeliveryAttempt, Webhook
from .signals import webhook_deactivated, webhook_deleted

logger = logging.getLogger("django_webhooks")


def connect() -> None:
    webhook_deactivated.connect(
        notify_deactivated, sender=Webhook, dispatch_uid="django_webhooks.notify_deactivated"
    )
    webhook_deleted.connect(
        notify_deleted, sender=Webhook, dispatch_uid="django_webhooks.notify_deleted"
    )


def notify_deactivated(
    sender: type[Webhook], webhook: Webhook, attempt: DeliveryAttempt, reason: str, **kwargs: Any
) -> None:
    _notify(
        _("Webhook deactivated: %(url)s") % {"url": webhook.url},
        _(
            "The webhook to %(url)s (API key “%(key)s”) was deactivated: %(reason)s\n\n"
            "Nothing more is sent to it until it is reactivated in the admin "
            "(Settings > Webhooks). What failed meanwhile can then be sent again with "
            "“Recover failed deliveries since…” or `manage.py webhooks_recover`."
        ),
        webhook,
        attempt,
        reason,
    )


def notify_deleted(
    sender: type[Webhook], webhook: Webhook, attempt: DeliveryAttempt, reason: str, **kwargs: Any
) -> None:
    _notify(
        _("Webhook deleted: %(url)s") % {"url": webhook.url},
        _(
            "The webhook to %(url)s (API key “%(key)s”) was deleted because its receiver asked "
            "to unsubscribe: %(reason)s\n\n"
            "Its delivery log is kept. To deliver there again, add the webhook anew."
        ),
        webhook,
        attempt,
        reason,
    )


def _notify(
    subject: str, template: str, webhook: Webhook, attempt: DeliveryAttempt, reason: str
) -> None:
    if not webhook_settings.NOTIFY_ADMINS:
        return
    details = _("Event: %(type)s %(id)s, attempt %(number)d, answered HTTP %(status)s.") % {
        "type": attempt.event_type,
        "id": attempt.event_id,
        "number": attempt.number,
        "status": attempt.response_status or "—",
    }
    message = template % {"url": webhook.url, "key": webhook.api_key, "reason": reason}
    try:
        mail_admins(subject, f"{message}\n\n{details}\n")
    except Exception:
        # A broken mail server must not make the signal's other receivers miss it.
        logger.exception("Could not mail the admins about the webhook %s.", webhook.pk)
