"""Fan-out: each new event becomes one attempt per webhook that gets it.

The payload is built here, by a worker, from the object as its transaction committed it and
the object's committed related rows (so order items created later in the same transaction
are in it); each webhook's filter then decides whether it gets the event and which lines.

An ordered webhook's attempts carry their event's object and number, which the claim reads
(:mod:`.ordering`). For those, an object's events are fanned out in their order: one whose
object has an earlier event still undispatched elsewhere (in another worker's batch, or past
this batch's end) waits for the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from cachetools import LRUCache
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.utils import timezone

from .. import sources, wakeup
from ..filters import DENY_ALL, CompiledFilter, compile_filter, decide_all
from ..models import ApiKey, DeliveryAttempt, Event, Webhook
from ..observability import hooks
from ..rows import Compiled, insert_rows, update_rows
from ..snapshots import object_snapshot as snapshot_of
from ..snapshots import rebuild

logger = logging.getLogger("django_webhooks")


def dispatch_pending(using: str = DEFAULT_DB_ALIAS, limit: int = 200) -> int:
    """Fan undispatched events out to their subscribers; returns how many attempts were made.

    Concurrent workers skip each other's events (``SKIP LOCKED``; SQLite serialises), and an
    event is marked dispatched in the same transaction as its attempts: no event is fanned
    out twice, none is lost.
    """
    if not _undispatched(using).rows(using):
        return 0  # the common case for a busy run's polls: one statement, no transaction
    now = timezone.now()
    with transaction.atomic(using=using):
        _skip_commit_flush(using)
        pending = list(
            Event.objects.using(using)
            .select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("created_at")[:limit]
        )
        if not pending:
            return 0
        webhooks = list(
            Webhook.objects.using(using)
            .deliverable()
            .only(
                "id", "url", "events", "ordered", "api_key_id", "updated_at", "api_key__updated_at"
            )
            .select_related("api_key")
        )
        if any(webhook.ordered for webhook in webhooks):
            ready = _in_order(pending, using)
            if len(ready) < len(pending):
                wakeup.wake_on_commit(using)  # for those left: soon their turn
            pending = ready
            if not pending:
                return 0
        _build_missing_data(pending, using)
        compiled = _compiled_filters(webhooks, using)
        attempts = [
            DeliveryAttempt(
                webhook=webhook,
                event=event,
                url=webhook.url,
                event_type=event.type,
                number=1,
                trigger=DeliveryAttempt.Trigger.EVENT,
                scheduled_for=now,
                created_at=now,
                object_override=object_override,
                **_place_in_order(event, webhook),
            )
            for event, webhook, object_override in _fan_out(pending, webhooks, compiled)
        ]
        for event in pending:
            event.dispatched_at = now
        insert_rows(DeliveryAttempt, attempts, using)
        update_rows(Event, pending, ["data", "dispatched_at"], using)
    hooks.dispatched(pending, attempts)
    return len(attempts)


@lru_cache(maxsize=8)
def _undispatched(using: str) -> Compiled:
    """Whether any event waits to be fanned out (on the outbox's partial index)."""
    return Compiled(
        Event.objects.using(using).filter(dispatched_at__isnull=True).values_list("pk")[:1], using
    )


def _place_in_order(event: Event, webhook: Webhook) -> dict[str, Any]:
    """What the claim of an ordered webhook's attempt reads (nothing for the others)."""
    if not webhook.ordered or event.sequence is None:
        return {}
    return {"object_key": f"{event.object_model}:{event.object_pk}", "sequence": event.sequence}


def _in_order(pending: list[Event], using: str) -> list[Event]:
    """``pending`` without the events whose object has an earlier event not among them."""
    numbered = [event for event in pending if event.sequence is not None]
    if not numbered:
        return pending
    elsewhere: dict[tuple[str, str], int] = {}
    for object_model, object_pk, number in (
        Event.objects.using(using)
        .filter(dispatched_at__isnull=True, object_pk__in={e.object_pk for e in numbered})
        .exclude(pk__in=[event.pk for event in pending])
        .filter(sequence__isnull=False)
        .values_list("object_model", "object_pk", "sequence")
    ):
        if number is not None:  # filtered above; for the type checker
            key = (object_model, object_pk)
            elsewhere[key] = min(number, elsewhere.get(key, number))
    if not elsewhere:
        return pending
    return [
        event
        for event in pending
        if event.sequence is None
        or event.sequence < elsewhere.get((event.object_model, event.object_pk), event.sequence + 1)
    ]


def _fan_out(
    pending: Sequence[Event],
    webhooks: Sequence[Webhook],
    compiled: dict[int, tuple[CompiledFilter, CompiledFilter]],
) -> Iterator[tuple[Event, Webhook, dict[str, Any] | None]]:
    """Each (event, webhook) that gets a delivery, with the object the webhook's filter left."""
    for event in pending:
        if not _ready(event):
            continue
        source = sources.for_label(event.object_model) if event.object_model else None
        items_key = source.items_key if source else sources.ITEMS_KEY
        for webhook in webhooks:
            if webhook.subscribes_to(event.type):
                decision = decide_all(compiled[webhook.pk], event.data, items_key)
                if decision.deliver:
                    yield event, webhook, decision.object_override


#: Compiled filters by (kind, id, updated_at): a filter is read and compiled once per change,
#: not loaded with every webhook on every run.
_compiled: LRUCache[tuple[str, int, Any], CompiledFilter] = LRUCache(maxsize=4096)


def _compiled_filters(
    webhooks: list[Webhook], using: str
) -> dict[int, tuple[CompiledFilter, CompiledFilter]]:
    """Each webhook's key's scope and its own filter, compiled, in that order, by webhook."""
    wanted: dict[tuple[str, int, Any], tuple[type[models.Model], int, str]] = {}
    for webhook in webhooks:
        key = webhook.api_key
        wanted[("scope", key.pk, key.updated_at)] = (ApiKey, key.pk, "scope")
        wanted[("filter", webhook.pk, webhook.updated_at)] = (Webhook, webhook.pk, "filter")
    missing = [cache_key for cache_key in wanted if cache_key not in _compiled]
    for model, field_name in ((ApiKey, "scope"), (Webhook, "filter")):
        ids = {wanted[k][1] for k in missing if wanted[k][0] is model}
        if not ids:
            continue
        rows = model._base_manager.using(using).filter(pk__in=ids)
        for pk, updated_at, spec in rows.values_list("pk", "updated_at", field_name):
            _compiled[(field_name, pk, updated_at)] = _compile_stored(spec, model, pk)
    return {
        webhook.pk: (
            _compiled.get(("scope", webhook.api_key.pk, webhook.api_key.updated_at), DENY_ALL),
            _compiled.get(("filter", webhook.pk, webhook.updated_at), DENY_ALL),
        )
        for webhook in webhooks
    }


def _compile_stored(spec: Any, model: type, pk: int) -> CompiledFilter:
    try:
        return compile_filter(spec)
    except ValidationError:
        # Saved before a rule tightened: deliver nothing rather than more than allowed.
        logger.error("The %s %s has an invalid filter; nothing is sent to it.", model.__name__, pk)
        return DENY_ALL


def _ready(event: Event) -> bool:
    return event.data is not None and (not event.object_model or "object" in event.data)


def _build_missing_data(pending: list[Event], using: str) -> None:
    """Events about an object: ``data.object`` from the object as its transaction committed it.

    The object's fields come from the event's ``object_state``; an event without one (the
    object had deferred fields when saved, or ``send_event`` was given a changed instance)
    reads the committed row instead. A serializer that fails for one object must not hold the
    others back: that event is logged and left without data, so nothing is sent for it.
    """
    unbuilt = [event for event in pending if event.object_model and not _ready(event)]
    needs_row: dict[str, set[str]] = {}
    for event in unbuilt:
        if event.object_state is None:
            needs_row.setdefault(event.object_model, set()).add(event.object_pk)
    committed_rows: dict[tuple[str, str], Any] = {}
    for label, pks in needs_row.items():
        for instance in apps.get_model(label)._base_manager.using(using).filter(pk__in=pks):
            committed_rows[(label, str(instance.pk))] = instance
    rebuilt: list[tuple[Event, sources.Source, Any]] = []
    for event in unbuilt:
        source = sources.for_label(event.object_model)
        if source is None:
            logger.warning(
                "%s %s: %s is no longer an event source; nothing to send.",
                event.type,
                event.pk,
                event.object_model,
            )
            continue
        if event.object_state is not None:
            instance = rebuild(source.model, event.object_state, using)
        else:
            instance = committed_rows.get((event.object_model, event.object_pk))
        if instance is None:
            logger.info(
                "%s %s: its %s is gone; nothing to send.", event.type, event.pk, event.object_model
            )
            continue
        rebuilt.append((event, source, instance))
    by_source: dict[str, tuple[sources.Source, list[Any]]] = {}
    for _, source, instance in rebuilt:
        by_source.setdefault(source.label, (source, []))[1].append(instance)
    for source, instances in by_source.values():
        source.prefetch(instances)  # an order's items: one query for the batch, not one each
    for event, _, instance in rebuilt:
        try:
            snapshot = snapshot_of(instance)
        except Exception:
            logger.exception(
                "Cannot serialize %s %s; event %s is not sent.",
                event.object_model,
                event.object_pk,
                event.pk,
            )
            continue
        data: dict[str, Any] = {"object": snapshot}
        if event.previous is not None:
            data["previous"] = event.previous
        event.data = {**data, **(event.data or {})}


def _skip_commit_flush(using: str) -> None:
    # The event rows this transaction completes are already durable; if a crash loses this
    # commit, they are simply dispatched again. So PostgreSQL need not wait for the WAL flush.
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
