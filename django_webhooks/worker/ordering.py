"""Ordered webhooks: an object's events reach the webhook one at a time, in their order.

An ordered webhook's attempts carry their event's object (``object_key``) and its number
among the object's events (``sequence``), copied at fan-out (:mod:`.dispatch`) and onto each
retry (:mod:`.outcomes`). Such an attempt may be claimed only when no attempt of the same
webhook for the same object with a lower number is still scheduled or sending: the next
event waits while the one before it is in flight or waiting for a retry, and goes once it
succeeded or was given up (failed for good, or cancelled).

Everything else has a blank ``object_key`` (unordered webhooks, events about no object,
tests, redeliveries asked for by hand) and is claimable as before; those rows are not in the
probe's partial index (``attempt_ordered_idx``) either, so unordered webhooks pay nothing.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from ..models import DeliveryAttempt

Status = DeliveryAttempt.Status


def claimable() -> Q:
    """The claim's filter on due attempts: not held back by an earlier one of its object."""
    earlier = DeliveryAttempt.objects.filter(
        # The partial index's own condition, term for term, so that the planner uses it.
        (Q(status=Status.SCHEDULED) | Q(status=Status.SENDING)) & ~Q(object_key=""),
        webhook_id=OuterRef("webhook_id"),
        object_key=OuterRef("object_key"),
        sequence__lt=OuterRef("sequence"),
    )
    return Q(object_key="") | Q(~Exists(earlier))
