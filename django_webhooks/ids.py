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
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Two Crockford characters per 10 bits: an id is 13 lookups (ULID's own text encoding is
#: the same alphabet, letter for letter, at a few times the cost on every order save).
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_SHIFTS = range(120, -1, -10)


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@per_process
def _generator() -> ULIDGenerator:
    return ULIDGenerator(clock=lambda: _milliseconds(timezone.now()))


def _text(timestamp: int, randomness: bytes) -> str:
    value = (timestamp << 80) | int.from_bytes(randomness, "big")
    return PREFIX + "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def new_event_id(at: datetime | None = None) -> str:
    """A new event id; made now unless ``at`` is given (then not ordered among others)."""
    if at is not None:
        return PREFIX + str(ULID.from_datetime(at))
    generator = _generator.get()
    timestamp = generator.clock()
    # The generator's own monotonic policy picks the random part (one millisecond's ids keep
    # their order); the text is spelled here.
    with generator.lock:
        randomness = generator.policy.resolve_randomness(timestamp, generator.randomness_source)
    return _text(timestamp, randomness)


def event_id_floor(moment: datetime) -> str:
    """The smallest event id made at ``moment``: ``pk__lt`` it means "created before"."""
    return _text(_milliseconds(moment), bytes(10))
