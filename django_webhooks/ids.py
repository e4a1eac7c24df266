"""Event ids: ``evt_`` + a ULID (48 bits of milliseconds, then 80 random bits).

They sort by time, so "created before" is a primary-key range (:func:`event_id_floor`), and
ids made within one millisecond by one process keep their order (python-ulid's monotonic
generator). The clock is Django's ``timezone.now``, the one ``Event.created_at`` comes from.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from ulid import ULID, ULIDGenerator

from .process_local import per_process

PREFIX = "evt_"
_RANDOM_BYTES = 10
_TIMESTAMP_BYTES = 6


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@per_process
def _generator() -> ULIDGenerator:
    return ULIDGenerator(clock=lambda: _milliseconds(timezone.now()))


def new_event_id(at: datetime | None = None) -> str:
    """A new event id; made now unless ``at`` is given (then not ordered among others)."""
    if at is not None:
        return PREFIX + str(ULID.from_datetime(at))
    return PREFIX + str(_generator.get().generate())


def event_id_floor(moment: datetime) -> str:
    """The smallest event id made at ``moment``: ``pk__lt`` it means "created before"."""
    stamp = _milliseconds(moment).to_bytes(_TIMESTAMP_BYTES, "big")
    return PREFIX + str(ULID.from_bytes(stamp + bytes(_RANDOM_BYTES)))
