"""Lean statements for the hot paths: bulk writes (an order save's events, a dispatch's
attempts, a batch of outcomes) and reads compiled once (a claim's).

``bulk_create`` and ``bulk_update`` prepare every field of every row through the field
classes and, for updates, build a CASE WHEN per field and row; on Django 5.2 ``bulk_create``
also splits SQLite inserts at 999 parameters (a statement per ~50 attempts), though SQLite
takes far more. Here the SQL for a shape is built once per process, values of plain types go
to the driver as they are, and one statement carries as many rows as the database allows.

On PostgreSQL an insert sends one array per column (``INSERT … SELECT * FROM unnest(…)``)
rather than a placeholder per value: psycopg's client-side binding, which Django uses,
parses the whole statement for placeholders on every execution, and for 2,000 attempts
(~34,000 placeholders) that took 150 ms of CPU against 53 ms with arrays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeAlias

from django.db import connections
from django.db.models import Field, ForeignKey, Model, QuerySet

_PLAIN_TYPES = {
    "AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField", "IntegerField",
    "PositiveBigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
    "SmallIntegerField", "TextField",
}  # fmt: skip

#: Per column: its attname, and the field that prepares its value (None: passed as it is).
Columns: TypeAlias = "list[tuple[str, Field[Any, Any] | None]]"  # Field: no [] at run time


def insert_rows(model: type[Model], rows: Sequence[Model], using: str) -> None:
    """INSERT ``rows`` (model instances; no primary keys are read back)."""
    if not rows:
        return
    connection = connections[using]
    per_statement = len(rows)
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        per_statement = max(limit // len(insert_fields(model)), 1)
    columns = _columns(model, tuple(field.name for field in insert_fields(model)))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = _values(rows, columns, connection)
            width = len(columns)
            cursor.execute(
                _unnest_insert_sql(model, using),
                [values[start::width] for start in range(width)],
            )
            return
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(
                insert_sql(model, using, len(chunk)), _values(chunk, columns, connection)
            )


def update_rows(
    model: type[Model], rows: Sequence[Model], field_names: Sequence[str], using: str
) -> None:
    """UPDATE each of ``rows`` (by primary key) with its ``field_names``, in one batch."""
    if not rows:
        return
    connection = connections[using]
    columns = [*_columns(model, tuple(field_names)), (model._meta.pk.attname, None)]
    with connection.cursor() as cursor:
        cursor.executemany(
            _update_sql(model, tuple(field_names), using),
            [_values([row], columns, connection) for row in rows],
        )


def update_returning(
    model: type[Model],
    pks: Sequence[Any],
    changes: dict[str, Any],
    field_names: Sequence[str],
    using: str,
    *,
    increment: str | None = None,
) -> list[Any] | None:
    """UPDATE the rows ``pks`` with ``changes`` (and ``increment`` + 1) and read their
    ``field_names`` back in the same statement; None where the database cannot.

    PostgreSQL and SQLite 3.35+ have ``UPDATE … RETURNING``; the instances come back with
    only those fields (and the primary key) loaded, converted as the ORM would.
    """
    connection = connections[using]
    if not _returns_from_update(connection) or not pks:
        return None if pks else []
    quote = connection.ops.quote_name
    meta = model._meta
    loaded = {meta.pk.name, *field_names}
    fields = [field for field in meta.concrete_fields if field.name in loaded]  # model order
    setters = [f"{quote(column(model, name))} = %s" for name in changes]
    if increment:
        setters.append(f"{quote(column(model, increment))} = {quote(column(model, increment))} + 1")
    columns = _columns(model, tuple(changes))
    params = [
        field.get_db_prep_save(value, connection) if field else value
        for (_, field), value in zip(columns, changes.values(), strict=True)
    ]
    returned = ", ".join(quote(column(model, field.name)) for field in fields)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(setters)} "
        f"WHERE {quote(column(model, 'pk'))} IN ({', '.join(['%s'] * len(pks))}) "
        f"RETURNING {returned}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *pks])
        rows = cursor.fetchall()
    converters = []
    for field in fields:
        expression = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(
            connection
        )
        converters.append((expression, found))
    attnames = [field.attname for field in fields]
    instances = []
    for row in rows:
        values = []
        for value, (expression, found) in zip(row, converters, strict=True):
            for convert in found:
                value = convert(value, expression, connection)
            values.append(value)
        instances.append(model.from_db(using, attnames, values))
    return instances


class Compiled:
    """A queryset's SQL compiled once, run again with other values in its sentinels' places.

    Building and compiling a queryset costs a claim more CPU than the database spends on
    it (~4 ms for the due rows' query, with its ordering subquery): the SQL is the ORM's
    own, compiled with sentinel values, each of which must appear exactly once among its
    parameters (a list sentinel: each item once). Only for rows of plain values (no
    converters are applied).
    """

    def __init__(self, queryset: QuerySet[Any, Any], using: str, **sentinels: Any) -> None:
        connection = connections[using]
        sql, params = queryset.query.get_compiler(using=using).as_sql()
        wanted: dict[Any, tuple[str, int | None]] = {}
        for name, value in sentinels.items():
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for index, item in items:
                wanted[_as_param(item, connection)] = (name, index)
        self.places: dict[int, tuple[str, int | None]] = {}
        for position, param in enumerate(params):
            place = wanted.get(param) if isinstance(param, int | str | datetime) else None
            if place is not None:
                self.places[position] = place
        if sorted(self.places.values(), key=repr) != sorted(wanted.values(), key=repr):
            raise ValueError(f"Not every sentinel is a parameter of its own in {sql!r}.")
        self.sql, self.params = sql, list(params)

    def rows(self, using: str, **values: Any) -> list[tuple[Any, ...]]:
        connection = connections[using]
        params = self.params.copy()
        for position, (name, index) in self.places.items():
            value = values[name] if index is None else values[name][index]
            params[position] = _as_param(value, connection)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            found: list[tuple[Any, ...]] = cursor.fetchall()
        return found


def _as_param(value: Any, connection: Any) -> Any:
    """A sentinel's value as the ORM passes it to the driver."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _returns_from_update(connection: Any) -> bool:
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version_info >= (3, 35)
    return False


@lru_cache(maxsize=64)
def insert_fields(model: type[Model]) -> list[Field[Any, Any]]:
    return [field for field in model._meta.concrete_fields if field is not model._meta.auto_field]


@lru_cache(maxsize=256)
def insert_sql(model: type[Model], using: str, count: int) -> str:
    row = "(" + ", ".join(["%s"] * len(insert_fields(model))) + ")"
    return insert_head(model, using) + ", ".join([row] * count)


def insert_head(model: type[Model], using: str) -> str:
    """``INSERT INTO <table> (<the insert_fields' columns>) VALUES ``, for rows to follow."""
    quote = connections[using].ops.quote_name
    columns = ", ".join(quote(column(model, field.name)) for field in insert_fields(model))
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "


_WITHOUT_LENGTH = re.compile(r"\(.*?\)")


@lru_cache(maxsize=64)
def _unnest_insert_sql(model: type[Model], using: str) -> str:
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = insert_fields(model)
    columns = ", ".join(quote(column(model, field.name)) for field in fields)
    # The arrays are cast to the columns' types without their lengths: varchar(n) as a cast
    # would cut a value that is too long, where the column's own check refuses it.
    types = [_WITHOUT_LENGTH.sub("", field.db_type(connection) or "text") for field in fields]
    arrays = ", ".join(f"%s::{type_}[]" for type_ in types)
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT * FROM unnest({arrays})"


def column(model: type[Model], name: str) -> str:
    """The database column of ``model``'s field ``name`` (``"pk"``: its primary key)."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    column = getattr(field, "column", None)
    if not isinstance(column, str):
        raise TypeError(f"{model.__name__}.{name} has no column of its own")
    return column


@lru_cache(maxsize=64)
def _update_sql(model: type[Model], field_names: tuple[str, ...], using: str) -> str:
    quote = connections[using].ops.quote_name
    assignments = ", ".join(f"{quote(column(model, name))} = %s" for name in field_names)
    primary_key = quote(column(model, "pk"))
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {primary_key} = %s"


@lru_cache(maxsize=64)
def _columns(model: type[Model], field_names: tuple[str, ...]) -> Columns:
    columns: Columns = []
    for name in field_names:
        field = model._meta.get_field(name)
        if not isinstance(field, Field):
            raise TypeError(f"{model.__name__}.{name} is not a concrete field")
        target = field.target_field if isinstance(field, ForeignKey) else field
        plain = target.get_internal_type() in _PLAIN_TYPES and not getattr(field, "auto_now", False)
        columns.append((field.attname, None if plain else field))
    return columns


def _values(rows: Sequence[Model], columns: Columns, connection: Any) -> list[Any]:
    # The connection is the calling thread's: Django's connections are per thread.
    return [
        field.get_db_prep_save(field.pre_save(row, row._state.adding), connection)
        if field
        else getattr(row, attname)
        for row in rows
        for attname, field in columns
    ]
