"""System checks for every setting a store can get wrong, with stable ids (``checks.ids``).

``settings``: the WEBHOOKS dict; ``sources``: the event sources (SOURCES, ORDER_MODEL);
``queue``: django-q2's Q_CLUSTER; ``headers``: the keys of custom header values; ``portal``:
the consumer portal's settings (run by ``check_settings``); ``observability``: the metrics
token and the traceparent header. Importing this package registers them.
"""

from .headers import check_headers_keys
from .observability import check_observability
from .queue import check_queue
from .settings import check_installed_apps, check_settings
from .sources import check_sources

__all__ = [
    "check_headers_keys",
    "check_installed_apps",
    "check_observability",
    "check_queue",
    "check_settings",
    "check_sources",
]
