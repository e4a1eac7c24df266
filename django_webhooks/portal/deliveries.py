"""A webhook's deliveries for the portal: newest first, filtered, a page at a time.

Pages are keyset pages on the log's ``(webhook, -created_at)`` index (``older_than`` /
``newer_than`` an attempt id), so a page costs the same at the start of a long log as deep
in it, and no COUNT of the whole log is made. Each row carries the body the attempt sent and
the answer's excerpt, except an answer from a non-public address: like the API, the portal
never shows the text of the store's internal services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from ..display import sent_body
from ..models import DeliveryAttempt, Webhook

PAGE_SIZE = 25


@dataclass(frozen=True)
class Row:
    attempt: DeliveryAttempt
    body: str | None

    @property
    def excerpt(self) -> str:
        return "" if self.attempt.answered_privately else self.attempt.response_excerpt

    @property
    def excerpt_hidden(self) -> bool:
        return self.attempt.answered_privately and bool(self.attempt.response_excerpt)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    #: The attempt ids to page from (None: there is nothing older / newer).
    older_than: int | None
    newer_than: int | None


def _cursor(log: QuerySet[DeliveryAttempt], pk: Any) -> tuple[Any, int] | None:
    if not isinstance(pk, str) or not pk.isdigit():
        return None
    created_at = log.filter(pk=int(pk)).values_list("created_at", flat=True).first()
    return None if created_at is None else (created_at, int(pk))


def page_of(
    webhook: Webhook,
    filters: dict[str, str],
    *,
    older_than: str | None = None,
    newer_than: str | None = None,
) -> Page:
    log = DeliveryAttempt.objects.filter(webhook=webhook, **filters)
    newer = _cursor(log, newer_than)
    older = None if newer else _cursor(log, older_than)
    if newer is not None:
        moment, pk = newer
        found = list(
            log.filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk))
            .select_related("event", "webhook")
            .order_by("created_at", "id")[: PAGE_SIZE + 1]
        )
        has_newer, has_older = len(found) > PAGE_SIZE, True
        attempts = found[:PAGE_SIZE][::-1]
    else:
        if older is not None:
            moment, pk = older
            log = log.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
        found = list(
            log.select_related("event", "webhook").order_by("-created_at", "-id")[: PAGE_SIZE + 1]
        )
        has_older, has_newer = len(found) > PAGE_SIZE, older is not None
        attempts = found[:PAGE_SIZE]
    return Page(
        rows=[Row(attempt=attempt, body=sent_body(attempt)) for attempt in attempts],
        older_than=attempts[-1].pk if has_older and attempts else None,
        newer_than=attempts[0].pk if has_newer and attempts else None,
    )
