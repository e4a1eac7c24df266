"""Who listens? The one query an order save pays for before it writes anything."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.utils import timezone

from .. import rows
from ..models import ApiKey, Webhook


def subscribed(event_types: Sequence[str], using: str = DEFAULT_DB_ALIAS) -> set[str]:
    """Which of ``event_types`` some deliverable webhook fires on.

    This runs on every order save: one query of one ``EXISTS`` per type (each stops at the
    first subscriber), its SQL built once per process.
    """
    if not event_types:
        return set()
    connection = connections[using]
    sql = _subscription_sql(connection.alias, len(event_types))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[str | bool | None] = []
    for event_type in event_types:
        params += ['%"' + event_type.replace("_", "\\_") + '"%', True, False, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return {event_type for event_type, hit in zip(event_types, row, strict=True) if hit}


@lru_cache(maxsize=32)
def _subscription_sql(alias: str, count: int) -> str:
    quote = connections[alias].ops.quote_name

    def column(model: type[Model], name: str) -> str:
        return quote(rows.column(model, name))

    expiry = f"k.{column(ApiKey, 'expiry_date')}"
    exists = (
        f"EXISTS(SELECT 1 FROM {quote(Webhook._meta.db_table)} w "
        f"INNER JOIN {quote(ApiKey._meta.db_table)} k "
        f"ON k.{column(ApiKey, 'pk')} = w.{column(Webhook, 'api_key')} "
        f"WHERE CAST(w.{column(Webhook, 'events')} AS TEXT) LIKE %s ESCAPE '\\' "
        f"AND w.{column(Webhook, 'is_active')} = %s AND k.{column(ApiKey, 'revoked')} = %s "
        f"AND ({expiry} IS NULL OR {expiry} > %s))"
    )
    return "SELECT " + ", ".join([exists] * count)
