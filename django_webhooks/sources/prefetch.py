"""What a source's serializer reads beyond the instance, fetched for a batch at once.

A worker builds the payloads of a dispatch's events together, and a DRF serializer with
nested serializers or related fields reads each instance's related rows on its own: a query
per event for an order's items, most of what a payload costs. Which relations it follows is
known from its declared fields, so :func:`prefetch` fetches them for the whole batch with
``prefetch_related_objects``, which fills the very caches the serializer then reads (the
same rows, from the same managers). A serializer that is a plain function, a method field
or a ``source="*"`` is opaque: what it reads is read as before, lazily.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models import prefetch_related_objects

logger = logging.getLogger("django_webhooks")

#: How deep nested serializers are followed (an order's lines' product's partner …).
MOST_HOPS = 4


def related_lookups(serializer: Any, model: type[models.Model]) -> tuple[str, ...]:
    """The ``prefetch_related`` lookups that the DRF ``serializer`` (an instance) follows
    from ``model``: nested serializers, their lists, and related fields that read the
    related row (not a primary key the instance already holds)."""
    return tuple(dict.fromkeys(_lookups(serializer, model, "", MOST_HOPS)))


def _lookups(serializer: Any, model: type[models.Model], prefix: str, hops: int) -> list[str]:
    from rest_framework import relations, serializers

    found: list[str] = []
    if hops <= 0:
        return found
    for field in serializer.fields.values():
        if field.write_only or field.source == "*":
            continue
        path, target = _relation_path(model, field.source_attrs)
        if not path:
            continue
        lookup = prefix + "__".join(path)
        whole = len(path) == len(field.source_attrs)
        nested = field.child if isinstance(field, serializers.ListSerializer) else field
        if isinstance(nested, serializers.BaseSerializer) and whole:
            found.append(lookup)
            if isinstance(nested, serializers.Serializer) and target is not None:
                found += _lookups(nested, target, lookup + "__", hops - 1)
        elif isinstance(field, relations.PrimaryKeyRelatedField) and whole:
            if not field.use_pk_only_optimization():
                found.append(lookup)
        elif isinstance(field, relations.RelatedField | relations.ManyRelatedField) or not whole:
            found.append(lookup)  # reads the related row (a slug, a string, a dotted field)
    return found


def _relation_path(
    model: type[models.Model], attrs: Sequence[str]
) -> tuple[list[str], type[models.Model] | None]:
    """The leading attributes of ``attrs`` that are relations, and the model they lead to."""
    path: list[str] = []
    current: type[models.Model] | None = model
    for attr in attrs:
        relation = _relations(current).get(attr) if current is not None else None
        if relation is None:
            break
        path.append(attr)
        current = relation.related_model if isinstance(relation.related_model, type) else None
    return path, current


def _relations(model: type[models.Model]) -> dict[str, Any]:
    """Relations by the attribute an instance reaches them by (a reverse one by its
    accessor, ``items`` or ``orderitem_set``); generic foreign keys are left out."""
    found: dict[str, Any] = {}
    for field in model._meta.get_fields():
        if not field.is_relation or field.related_model is None:
            continue
        if field.auto_created and not field.concrete:
            found[str(field.get_accessor_name())] = field  # type: ignore[union-attr]
        elif getattr(field, "attname", None) is not None or field.many_to_many:
            found[field.name] = field
    return found


#: (model label, lookups) that failed once in this process: not tried again.
_failed: set[tuple[str, tuple[str, ...]]] = set()


def prefetch(instances: Sequence[models.Model], lookups: Sequence[str]) -> None:
    """Fetch ``lookups`` for all of ``instances`` at once; on failure, nothing is lost: the
    serializer reads them one by one as before (and this process no longer tries)."""
    if not lookups or not instances:
        return
    first = instances[0]
    tried = (first._meta.label, tuple(lookups))
    if tried in _failed:
        return
    try:
        # In a savepoint: on PostgreSQL a statement that fails aborts the whole transaction,
        # the dispatch's, unless it is rolled back to one.
        with transaction.atomic(using=first._state.db or DEFAULT_DB_ALIAS):
            prefetch_related_objects(list(instances), *lookups)
    except Exception:  # a faster path that failed is no reason to send nothing
        _failed.add(tried)
        logger.warning(
            "Prefetching %s for %s failed; reading them per event from now on.",
            ", ".join(lookups),
            first._meta.label,
            exc_info=True,
        )
