"""The example store. Configured from the environment:

* ``DATABASE_URL`` (default: SQLite in WAL mode beside this file) and ``REDIS_URL`` (default:
  none, so django-q2's ORM broker on the same database: nothing to install beyond pip);
* ``DJANGO_DEBUG`` (default on), ``DJANGO_SECRET_KEY``, ``Q_CLUSTER_NAME``, ``Q_WORKERS``;
* ``WEBHOOKS_ALLOW_PRIVATE=1`` lets deliveries go to loopback and private addresses (the
  demo's receiver is on 127.0.0.1; ``manage.py demo`` sets it for itself). Off by default,
  DEBUG or not: with it on, any API key could make the store call its internal services.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-store-not-for-production")
ALLOWED_HOSTS = ["*"] if DEBUG else os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")

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
    "example_project.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
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
WSGI_APPLICATION = "example_project.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=600
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and worker processes write at once: WAL and IMMEDIATE transactions keep SQLite
    # from answering "database is locked" (see the system checks W002 and W005).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

REDIS_URL = os.environ.get("REDIS_URL")
Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", "example-store"),
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 60,
    "retry": 120,
    "poll": 0.1,
    "save_limit": 100,
    "max_rss": 200_000,
    "catch_up": False,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

WEBHOOKS = {
    "ORDER_MODEL": "shop.Order",
    "ORDER_SERIALIZER": "example_project.shop.serializers.OrderSerializer",
    "ALLOW_PRIVATE_DESTINATIONS": os.environ.get("WEBHOOKS_ALLOW_PRIVATE") == "1",
}

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {
    "TITLE": "django-webhooks API",
    "DESCRIPTION": "Subscribe endpoints to the store's events, read the delivery log, redeliver.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/admin/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_webhooks": {"handlers": ["console"], "level": "INFO"}},
}
