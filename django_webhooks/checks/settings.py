"""Checks of the ``WEBHOOKS`` dict's own values (the sources have :mod:`.sources`)."""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning

from ..conf import DEFAULTS
from .ids import ID, is_number
from .portal import check_portal
from .sources import check_sources

_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


#: Longer than anyone means (a year); larger values overflow datetime arithmetic.
MAX_DELAY_SECONDS = 366 * 24 * 3600
#: DeliveryAttempt.number is a PositiveSmallIntegerField.
MAX_RETRIES = 1000


def _is_status_code(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


@register(Tags.compatibility)
def check_installed_apps(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not apps.is_installed("rest_framework"):
        errors.append(
            Error(
                "'rest_framework' is not in INSTALLED_APPS.",
                hint="The webhook API needs Django REST framework: add 'rest_framework'.",
                id=ID + "E013",
            )
        )
    if not apps.is_installed("django_q"):
        errors.append(
            Error(
                "'django_q' is not in INSTALLED_APPS.",
                hint="Deliveries run in django-q2: add 'django_q' and run 'manage.py qcluster'.",
                id=ID + "E014",
            )
        )
    return errors


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = getattr(settings, "WEBHOOKS", {})
    if not isinstance(raw, dict):
        return [Error("WEBHOOKS must be a dict.", id=ID + "E001")]
    errors: list[CheckMessage] = []
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        errors.append(
            Error(
                f"Unknown WEBHOOKS key(s): {', '.join(map(repr, unknown))}.",
                hint=f"The keys are: {', '.join(DEFAULTS)}.",
                id=ID + "E002",
            )
        )
    errors += check_sources(raw)
    errors += _check_delays(raw)
    errors += _check_status_codes(raw)
    errors += _check_scalars(raw)
    errors += check_portal(raw)
    return errors


def _check_delays(raw: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    timeout = raw.get("TIMEOUT", DEFAULTS["TIMEOUT"])
    if not is_number(timeout) or not 0 < timeout <= 300:
        errors.append(
            Error(
                f"WEBHOOKS['TIMEOUT'] = {timeout!r} must be a number of seconds, above 0 and "
                "at most 300.",
                id=ID + "E005",
            )
        )
    delays = raw.get("RETRY_DELAYS", DEFAULTS["RETRY_DELAYS"])
    if (
        not isinstance(delays, list | tuple)
        or len(delays) > MAX_RETRIES
        or not all(is_number(delay) and 0 <= delay <= MAX_DELAY_SECONDS for delay in delays)
    ):
        errors.append(
            Error(
                f"WEBHOOKS['RETRY_DELAYS'] = {delays!r} must be a list of at most "
                f"{MAX_RETRIES} delays in seconds, each from 0 to {MAX_DELAY_SECONDS}.",
                hint="The default is [60, 120, 180, 240, 300]: six attempts in all.",
                id=ID + "E006",
            )
        )
    grace = raw.get("SIGNING_SECRET_GRACE_HOURS", DEFAULTS["SIGNING_SECRET_GRACE_HOURS"])
    if not is_number(grace) or grace < 0:
        errors.append(
            Error(
                f"WEBHOOKS['SIGNING_SECRET_GRACE_HOURS'] = {grace!r} must be a number >= 0.",
                id=ID + "E016",
            )
        )
    return errors


def _check_status_codes(raw: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    lists = {}
    for name in ("SUCCESS_STATUS_CODES", "DEACTIVATE_STATUS_CODES"):
        codes = raw.get(name, DEFAULTS[name])
        if not isinstance(codes, list | tuple | set | frozenset) or not all(
            _is_status_code(code) for code in codes
        ):
            errors.append(
                Error(
                    f"WEBHOOKS[{name!r}] = {codes!r} must be a list of HTTP status codes "
                    "(100-599).",
                    id=ID + "E007",
                )
            )
        else:
            lists[name] = set(codes)
    if len(lists) == 2:
        both = lists["SUCCESS_STATUS_CODES"] & lists["DEACTIVATE_STATUS_CODES"]
        if both:
            errors.append(
                Error(
                    f"Status code(s) {sorted(both)} are in both SUCCESS_STATUS_CODES and "
                    "DEACTIVATE_STATUS_CODES.",
                    id=ID + "E008",
                )
            )
    return errors


def _check_scalars(raw: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    phrase = raw.get("UNSUBSCRIBE_PHRASE", DEFAULTS["UNSUBSCRIBE_PHRASE"])
    if not isinstance(phrase, str) or not phrase.strip():
        errors.append(
            Error(
                f"WEBHOOKS['UNSUBSCRIBE_PHRASE'] = {phrase!r} must be a non-empty string.",
                id=ID + "E009",
            )
        )
    for name in ("ALLOW_PRIVATE_DESTINATIONS", "NOTIFY_ADMINS"):
        value = raw.get(name, DEFAULTS[name])
        if not isinstance(value, bool):
            errors.append(
                Error(f"WEBHOOKS[{name!r}] = {value!r} must be True or False.", id=ID + "E010")
            )
    for name in (
        "CONCURRENCY",
        "CONCURRENCY_PER_WEBHOOK",
        "RETENTION_DAYS",
        "MAX_WEBHOOKS_PER_KEY",
        "MAX_FILTER_BYTES",
    ):
        value = raw.get(name, DEFAULTS[name])
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(
                Error(
                    f"WEBHOOKS[{name!r}] = {value!r} must be a whole number >= 1.", id=ID + "E011"
                )
            )
    proxies = raw.get("TRUSTED_PROXIES", DEFAULTS["TRUSTED_PROXIES"])
    if not isinstance(proxies, int) or isinstance(proxies, bool) or proxies < 0:
        errors.append(
            Error(
                f"WEBHOOKS['TRUSTED_PROXIES'] = {proxies!r} must be a whole number >= 0.",
                hint="How many proxies of your own add to X-Forwarded-For in front of Django; "
                "0 (the default) trusts REMOTE_ADDR only.",
                id=ID + "E032",
            )
        )
    rate = raw.get("API_THROTTLE_RATE", DEFAULTS["API_THROTTLE_RATE"])
    if rate is not None and (not isinstance(rate, str) or not _RATE.fullmatch(rate)):
        errors.append(
            Error(
                f"WEBHOOKS['API_THROTTLE_RATE'] = {rate!r} is not a rate.",
                hint="Use DRF's form, e.g. '600/min', or None for no throttling.",
                id=ID + "E012",
            )
        )
    cluster = raw.get("QUEUE_CLUSTER", DEFAULTS["QUEUE_CLUSTER"])
    if cluster is not None and not isinstance(cluster, str):
        errors.append(
            Error(
                f"WEBHOOKS['QUEUE_CLUSTER'] = {cluster!r} must be a django-q2 cluster name "
                "or None.",
                id=ID + "E015",
            )
        )
    if raw.get("ALLOW_PRIVATE_DESTINATIONS") is True:
        errors.append(
            CheckWarning(
                "WEBHOOKS['ALLOW_PRIVATE_DESTINATIONS'] is True: deliveries may go to "
                "loopback and private addresses.",
                hint="Anyone with an API key can then make the server call internal "
                "addresses. Allow it only in development and tests (and silence this there).",
                id=ID + "W004",
            )
        )
    return errors
