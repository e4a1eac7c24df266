"""Per source object, a counter of its events: the ``sequence`` every payload carries.

One row per object (its source's label and primary key) holds the last number given out.
The recording transaction advances the counters of a whole batch of events with one
statement, ``INSERT … ON CONFLICT … DO UPDATE … RETURNING`` (PostgreSQL; SQLite 3.35+), and
numbers its events from what it returns; on PostgreSQL that upsert is a ``WITH`` of the
events' own ``INSERT`` (:func:`fold_into_insert`). The counter row stays locked until the
transaction ends, so a concurrent transaction recording an event of the same object waits
for it: on PostgreSQL the numbers of an object's events follow the order in which their
transactions commit, and a rollback gives its numbers back (the next transaction gets
them). On SQLite writes are serialised anyway. A database without that statement takes the rows with
``SELECT … FOR UPDATE`` and updates or creates them, one statement per object.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TypeAlias

from django.db import IntegrityError, connections, models, transaction
from django.db.models import F

#: (source label, primary key as text): whose events a counter numbers.
Key: TypeAlias = tuple[str, str]


class ObjectSequence(models.Model):
    object_model = models.CharField(max_length=100)
    object_pk = models.CharField(max_length=100)
    #: The number of the object's last event (0: none yet).
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "object sequence"
        constraints = [
            models.UniqueConstraint(
                fields=["object_model", "object_pk"], name="object_sequence_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.object_model} {self.object_pk}: {self.value}"


def advance(added: Mapping[Key, int], using: str) -> dict[Key, int]:
    """Add ``added[key]`` to each key's counter (in the caller's transaction); the new values.

    The events of one key in this batch take the numbers ``new - added + 1`` to ``new``.
    """
    if not added:
        return {}
    # Always the same order: two batches that share counters lock them in it.
    keys = sorted(added)
    connection = connections[using]
    if upserts_returning(connection):
        with connection.cursor() as cursor:
            cursor.execute(_upsert_sql(using, len(keys)), counter_params(added))
            return {(model, pk): int(value) for model, pk, value in cursor.fetchall()}
    return _advance_locking(keys, added, using)


#: The most events whose counters advance inside their own INSERT: each row's number is a
#: subquery over the counters, so a bulk batch (bulk_saved) takes the two statements instead.
FOLDED_AT_MOST = 64


def fold_into_insert(connection: Any, events: int) -> bool:
    """Whether the counters of ``events`` events advance inside the statement inserting them.

    PostgreSQL runs a data-modifying ``WITH``: the upsert below becomes the statement's
    :data:`COUNTERS`, and each inserted row reads its number from it (:func:`number_sql`),
    so that a save's events cost it one round trip, not two.
    """
    return (
        events <= FOLDED_AT_MOST
        and connection.vendor == "postgresql"
        and upserts_returning(connection)
    )


#: The name of the upsert's rows inside :func:`counted_sql`.
COUNTERS = "advanced_counters"


def counted_sql(using: str, counters: int, statement: str) -> str:
    """``statement`` preceded by the upsert of ``counters`` counters (:func:`counter_params`)."""
    return f"WITH {COUNTERS} AS ({_upsert_sql(using, counters)}) {statement}"


def counter_params(added: Mapping[Key, int]) -> list[Any]:
    """The upsert's parameters, the counters in the order :func:`advance` locks them in."""
    return [value for key in sorted(added) for value in (*key, added[key])]


@lru_cache(maxsize=8)
def number_sql(using: str) -> str:
    """Inside :func:`counted_sql`, a row's number: its counter's new value less ``back``.

    Its parameters: the source label, the primary key, and how many of the object's events
    in the batch come after this one.
    """
    quote = connections[using].ops.quote_name
    return (
        f"((SELECT {quote('value')} FROM {COUNTERS} WHERE {quote('object_model')} = %s "
        f"AND {quote('object_pk')} = %s) - %s)"
    )


def withdraw(taken: Mapping[Key, int], using: str) -> None:
    """Give back the last ``taken[key]`` numbers of each key (their events were dropped)."""
    for (model, pk), count in sorted(taken.items()):
        ObjectSequence.objects.using(using).filter(object_model=model, object_pk=pk).update(
            value=F("value") - count
        )


def upserts_returning(connection: Any) -> bool:
    """Whether the database takes the one-statement ``ON CONFLICT … RETURNING`` upsert."""
    features = connection.features
    return (
        connection.vendor in ("postgresql", "sqlite")
        and features.supports_update_conflicts_with_target
        and features.can_return_rows_from_bulk_insert
    )


@lru_cache(maxsize=64)
def _upsert_sql(using: str, rows: int) -> str:
    quote = connections[using].ops.quote_name
    table = quote(ObjectSequence._meta.db_table)
    key = f"{quote('object_model')}, {quote('object_pk')}"
    value = quote("value")
    return (
        f"INSERT INTO {table} ({key}, {value}) VALUES "
        + ", ".join(["(%s, %s, %s)"] * rows)
        + f" ON CONFLICT ({key}) DO UPDATE SET {value} = {table}.{value} + excluded.{value}"
        + f" RETURNING {key}, {value}"
    )


def _advance_locking(keys: list[Key], added: Mapping[Key, int], using: str) -> dict[Key, int]:
    """The fallback: lock each counter row (or create it) and add to it."""
    counters = ObjectSequence.objects.using(using)
    advanced: dict[Key, int] = {}
    for model, pk in keys:
        count = added[(model, pk)]
        row = counters.select_for_update().filter(object_model=model, object_pk=pk).first()
        if row is None:
            try:
                with transaction.atomic(using=using):
                    counters.create(object_model=model, object_pk=pk, value=count)
                advanced[(model, pk)] = count
                continue
            except IntegrityError:  # a concurrent transaction created it meanwhile
                row = counters.select_for_update().get(object_model=model, object_pk=pk)
        counters.filter(pk=row.pk).update(value=F("value") + count)
        advanced[(model, pk)] = row.value + count
    return advanced
