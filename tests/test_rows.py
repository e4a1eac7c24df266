"""rows.insert_rows: what goes in comes back as the ORM would have written it, on every
database (PostgreSQL sends one array per column, the others a placeholder per value), and a
value the table refuses writes no row. rows.Compiled: a queryset compiled once gives, with
other values, what the queryset built with them gives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_webhooks.models import DeliveryAttempt
from django_webhooks.rows import Compiled, insert_rows
from tests.factories import make_event

pytestmark = pytest.mark.django_db

AWKWARD_TEXT = [
    "",
    "quote \" and ' apostrophe",
    "back\\slash, comma, {braces}, NULL",
    "ünïcødé ✓ — and a\nnewline\tand tab",
]


def attempt(webhook, event, **fields) -> DeliveryAttempt:
    now = timezone.now()
    values = {
        "webhook": webhook,
        "event": event,
        "url": webhook.url,
        "event_type": event.type,
        "number": 1,
        "trigger": DeliveryAttempt.Trigger.EVENT,
        "scheduled_for": now,
        "created_at": now,
    }
    return DeliveryAttempt(**{**values, **fields})


def test_awkward_values_come_back_as_they_went_in(webhook):
    event = make_event()
    later = timezone.now() + timedelta(minutes=3)
    rows = [
        attempt(
            webhook,
            event,
            error=text,
            number=n + 1,
            duration_ms=None if n % 2 else n,
            started_at=later if n % 2 else None,
            request_headers={"X-Text": text, "nested": [1, None, {"a": text}]} if n else None,
            object_override={"id": n, "note": text} if n % 2 else None,
            answered_privately=bool(n % 2),
            sequence=2**40 + n,
        )
        for n, text in enumerate(AWKWARD_TEXT)
    ]
    insert_rows(DeliveryAttempt, rows, connection.alias)

    stored = list(DeliveryAttempt.objects.order_by("number"))
    assert [row.error for row in stored] == AWKWARD_TEXT
    assert [row.duration_ms for row in stored] == [0, None, 2, None]
    assert [row.started_at for row in stored] == [None, later, None, later]
    assert [row.request_headers for row in stored] == [row.request_headers for row in rows]
    assert [row.object_override for row in stored] == [row.object_override for row in rows]
    assert [row.answered_privately for row in stored] == [False, True, False, True]
    assert [row.sequence for row in stored] == [2**40 + n for n in range(4)]
    assert {row.webhook_id for row in stored} == {webhook.pk}
    assert {row.status for row in stored} == {DeliveryAttempt.Status.SCHEDULED}  # the default


def test_many_rows_go_in_one_statement_where_the_database_takes_them(webhook):
    event = make_event()
    rows = [attempt(webhook, event, number=n % 30000) for n in range(3000)]
    with CaptureQueriesContext(connection) as queries:
        insert_rows(DeliveryAttempt, rows, connection.alias)
    assert DeliveryAttempt.objects.count() == 3000
    inserts = [q for q in queries if q["sql"].startswith("INSERT")]
    if connection.vendor == "postgresql":
        assert len(inserts) == 1
        assert "unnest(" in inserts[0]["sql"]  # one array per column, not a value each
        assert "VALUES" not in inserts[0]["sql"]
    else:
        assert len(inserts) >= 1


def test_a_value_too_long_for_its_column_writes_no_row(webhook):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite does not enforce varchar lengths")
    event = make_event()
    max_length = DeliveryAttempt._meta.get_field("claimed_by").max_length
    rows = [
        attempt(webhook, event),
        attempt(webhook, event, claimed_by="x" * (max_length + 1)),  # not cut short: refused
    ]
    with pytest.raises(DatabaseError, match="too long"), transaction.atomic():
        insert_rows(DeliveryAttempt, rows, connection.alias)
    assert not DeliveryAttempt.objects.exists()


def test_a_number_out_of_its_columns_range_writes_no_row(webhook):
    event = make_event()
    rows = [attempt(webhook, event), attempt(webhook, event, number=-1)]
    with pytest.raises(DatabaseError), transaction.atomic():
        insert_rows(DeliveryAttempt, rows, connection.alias)
    assert not DeliveryAttempt.objects.exists()


def test_a_compiled_queryset_run_with_other_values_reads_what_the_orm_would(webhook):
    now = timezone.now()
    event = make_event()
    rows = [
        attempt(webhook, event, number=n + 1, scheduled_for=now - timedelta(minutes=n))
        for n in range(5)
    ]
    insert_rows(DeliveryAttempt, rows, "default")
    instant = now.replace(year=1999)

    def due(before, numbers):
        return (
            DeliveryAttempt.objects.filter(scheduled_for__lte=before)
            .exclude(number__in=numbers)
            .order_by("scheduled_for")
            .values_list("id", "number")
        )

    compiled = Compiled(due(instant, [-1, -2]), "default", before=instant, numbers=[-1, -2])
    earlier = now - timedelta(minutes=2, seconds=30)
    for before, numbers in [(now, [7, 8]), (earlier, [1, 9]), (now, [2, 4])]:
        assert compiled.rows("default", before=before, numbers=numbers) == list(
            due(before, numbers)
        )
    assert [number for _, number in compiled.rows("default", before=earlier, numbers=[4, 9])] == [5]
    assert compiled.rows("default", before=instant, numbers=[-1, -2]) == []


def test_a_sentinel_that_is_not_a_parameter_of_its_own_is_refused(webhook):
    instant = timezone.now().replace(year=1999)
    twice = DeliveryAttempt.objects.filter(scheduled_for__lte=instant, created_at__gte=instant)
    with pytest.raises(ValueError, match="sentinel"):
        Compiled(twice, "default", before=instant)
    with pytest.raises(ValueError, match="sentinel"):
        Compiled(DeliveryAttempt.objects.filter(number=3), "default", number=-3)
