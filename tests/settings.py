"""Settings for the test suite and for the qcluster processes it starts.

Standalone: the example project is a demo, not the test harness. Of it, the tests install
only the shop app (for its models) and mount its demo receiver (tests/urls.py).

``WEBHOOKS_TEST_DEPLOYMENT``: ``sqlite`` (SQLite file + ORM broker, the default) or
``postgres`` (PostgreSQL + Redis broker). A test that starts a qcluster passes the live test
database's name in ``WEBHOOKS_TEST_DB_NAME`` and the delivery settings in ``WEBHOOKS_TEST_*``.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

DEPLOYMENT = os.environ.get("WEBHOOKS_TEST_DEPLOYMENT", "sqlite")
# Several checkouts may test at once on one machine: keep their databases and queues apart.
CHECKOUT = hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8]
SECRET_KEY = "tests-only"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_q",
    "django_webhooks",
    # The stores whose models the tests save: the example's shop (Order, items, Customer) and
    # tests/teststore, shaped unlike it (event sources).
    "example_project.shop",
    "tests.teststore",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the admin's German pages
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SILENCED_SYSTEM_CHECKS = ["django_webhooks.W004"]  # private destinations are what tests use
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

if DEPLOYMENT == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("WEBHOOKS_TEST_DB_NAME", f"webhooks_{CHECKOUT}"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "CONN_MAX_AGE": 60,
        }
    }
    BROKER = {"redis": REDIS_URL}
else:
    sqlite_path = os.path.join(tempfile.gettempdir(), f"django-webhooks-{CHECKOUT}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("WEBHOOKS_TEST_DB_NAME", sqlite_path),
            "TEST": {"NAME": sqlite_path.replace(".sqlite3", "-test.sqlite3")},
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
    BROKER = {"orm": "default"}

Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", f"webhooks-tests-{CHECKOUT}"),
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 60,
    "retry": 120,
    "poll": 0.05,
    "save_limit": 0,
    "catch_up": False,
    "log_level": "INFO",
    **BROKER,
}

WEBHOOKS = {
    "ORDER_MODEL": "shop.Order",
    "ORDER_SERIALIZER": "example_project.shop.serializers.OrderSerializer",
    "ALLOW_PRIVATE_DESTINATIONS": True,
    **json.loads(os.environ.get("WEBHOOKS_TEST_OVERRIDES", "{}")),
}
