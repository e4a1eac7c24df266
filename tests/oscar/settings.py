"""A django-oscar 4.2 shop ("frobshop"), set up as Oscar's "Building your own shop" says, with
django-webhooks installed as docs/recipes/oscar.md says (the recipe quotes this file).

For tests/oscar and the qcluster processes they start: ``WEBHOOKS_TEST_DB_NAME`` (the live test
database), ``WEBHOOKS_TEST_OVERRIDES`` and ``Q_WORKERS``, as in tests/settings.py.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

from oscar.defaults import *  # noqa: F403
from oscar.defaults import OSCAR_DASHBOARD_NAVIGATION

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.oscar.urls"
SITE_ID = 1
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-gb"
STATIC_URL = "static/"
MEDIA_URL = "media/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SILENCED_SYSTEM_CHECKS = ["django_webhooks.W004"]  # private destinations are what tests use

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    # 3rd-party apps that oscar depends on
    "widget_tweaks",
    "haystack",
    "treebeard",
    "django_tables2",
]
INSTALLED_APPS += ["rest_framework", "django_q", "django_webhooks"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
AUTHENTICATION_BACKENDS = (
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
)
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ],
        },
    },
]
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
# The simple backend keeps no index: nothing to update on each product save.
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.BaseSignalProcessor"

OSCAR_INITIAL_ORDER_STATUS = "Pending"
OSCAR_INITIAL_LINE_STATUS = "Pending"
OSCAR_ORDER_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Cancelled"),
    "Being processed": ("Processed", "Cancelled"),
    "Cancelled": (),
    "Processed": (),
}

# Several checkouts may test at once on one machine: keep their databases and queues apart.
CHECKOUT = hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8]
DEPLOYMENT = "sqlite"  # what tests/conftest.py asks every settings module
_sqlite_path = os.path.join(tempfile.gettempdir(), f"django-webhooks-oscar-{CHECKOUT}.sqlite3")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("WEBHOOKS_TEST_DB_NAME", _sqlite_path),
        "TEST": {"NAME": _sqlite_path.replace(".sqlite3", "-test.sqlite3")},
        "ATOMIC_REQUESTS": True,
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
    }
}

Q_CLUSTER = {
    "name": "frobshop",
    "workers": 2,
    "timeout": 60,  # a delivery run lasts up to ~35 s (system check django_webhooks.W003)
    "retry": 120,  # must be above timeout
    "orm": "default",  # the database is the broker; or "redis": "redis://127.0.0.1:6379/0"
    "max_rss": 200_000,
}
# The tests: a queue per checkout, polled often, no task results kept.
Q_CLUSTER.update(
    name=f"webhooks-oscar-{CHECKOUT}",
    workers=int(os.environ.get("Q_WORKERS", "2")),
    poll=0.05,
    save_limit=0,
    catch_up=False,
)

WEBHOOKS = {
    "SOURCES": {
        "order": {
            "model": "order.Order",
            "serializer": "tests.oscar.store_webhooks.OrderSerializer",
            "items": "lines",
            "ignore_fields": ["analytics_tracked"],
            "status_fields": {
                "status": "order.status_changed",
                "payment_status": {
                    "type": "order.payment_status_changed",
                    "value": "tests.oscar.store_webhooks.payment_status",
                },
                "fulfillment_status": {
                    "type": "order.fulfillment_status_changed",
                    "value": "tests.oscar.store_webhooks.fulfillment_status",
                },
            },
            "related": {
                "order.PaymentEvent": "order",
                "order.ShippingEventQuantity": "event__order",
            },
        },
    },
}
# The tests' receiver listens on 127.0.0.1; their qcluster gets the fast retry schedule.
WEBHOOKS["ALLOW_PRIVATE_DESTINATIONS"] = True
WEBHOOKS.update(json.loads(os.environ.get("WEBHOOKS_TEST_OVERRIDES", "{}")))


def can_see_webhooks(user, url_name, url_args=None, url_kwargs=None):
    # Oscar's default access function knows only the dashboard's own URLs. These are the
    # admin's, "admin:django_webhooks_<model>_changelist": the model's view permission.
    model = url_name.rsplit("_", 2)[-2]
    return user.is_staff and user.has_perm(f"django_webhooks.view_{model}")


OSCAR_DASHBOARD_NAVIGATION = [
    *OSCAR_DASHBOARD_NAVIGATION,
    {
        "label": "Webhooks",
        "icon": "fas fa-paper-plane",
        "children": [
            {
                "label": "Webhooks",
                "url_name": "admin:django_webhooks_webhook_changelist",
                "access_fn": can_see_webhooks,
            },
            {
                "label": "Delivery log",
                "url_name": "admin:django_webhooks_deliveryattempt_changelist",
                "access_fn": can_see_webhooks,
            },
            {
                "label": "API keys",
                "url_name": "admin:django_webhooks_apikey_changelist",
                "access_fn": can_see_webhooks,
            },
        ],
    },
]
