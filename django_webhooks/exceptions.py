"""Every exception the app raises on purpose, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from urllib3.exceptions import NewConnectionError

if TYPE_CHECKING:
    from urllib3.connection import HTTPConnection


class WebhooksError(Exception):
    """Base class of the app's own errors."""


class DeliveryRefused(WebhooksError):
    """A test or redelivery that cannot be made (inactive webhook, one already under way)."""


class UnknownEventType(WebhooksError, ValueError):
    """An event type the catalog does not have (a test delivery of a type asked for by name)."""

    def __init__(self, event_type: object) -> None:
        self.event_type = event_type
        super().__init__(f"Unknown event type {event_type!r}.")


class HeadersUnreadable(WebhooksError):
    """A webhook's stored custom headers that no configured key decrypts (a key was dropped)."""


class DestinationRefused(NewConnectionError):
    """Every address of the destination is one the address guard refuses.

    A connection error to urllib3 and requests (so it ends the attempt like any other), with
    the guard's explanation kept for the delivery log.
    """

    def __init__(self, conn: HTTPConnection, explanation: str) -> None:
        self.explanation = explanation
        super().__init__(conn, explanation)


class Conflict(APIException):
    """The API's answer to a :class:`DeliveryRefused`: 409, not possible in the current state."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("Not possible in the current state.")
    default_code = "conflict"
