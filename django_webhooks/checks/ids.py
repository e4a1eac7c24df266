"""Check ids are stable: never reuse one, even for a check that was removed."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

ID = "django_webhooks."


def is_number(value: Any) -> bool:
    """A finite real number (inf and nan would overflow the scheduler's date arithmetic)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
