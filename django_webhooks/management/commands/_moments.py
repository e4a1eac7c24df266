"""Reading "since" arguments: an ISO 8601 moment, or a duration ago such as ``90m`` or ``2d``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

_AGO = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    value = value.strip()
    ago = _AGO.fullmatch(value)
    if ago:
        amount, unit = ago.groups()
        return (now or timezone.now()) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(
            f"{value!r} is neither an ISO 8601 date and time (2026-11-28T09:00) "
            "nor a duration ago (30m, 6h, 2d)."
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
