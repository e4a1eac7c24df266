"""One HTTP POST per attempt, with a hard deadline, to an address the guard allows.

``deadline``: the whole-attempt deadline and its watchdog; ``resolver``: host-name lookups
within it; ``connections``: guarded connections and bounded header reads; ``session``: the
keep-alive :class:`Transport`; ``errors``: failures described for the delivery log.
"""

from ..exceptions import DestinationRefused
from .connections import MAX_HEADER_BYTES, HeaderBlockTooLarge
from .deadline import Deadline, current_deadline
from .session import MAX_ANSWER_BYTES, USER_AGENT, Result, Transport, get_transport

__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_HEADER_BYTES",
    "USER_AGENT",
    "Deadline",
    "DestinationRefused",
    "HeaderBlockTooLarge",
    "Result",
    "Transport",
    "current_deadline",
    "get_transport",
]
