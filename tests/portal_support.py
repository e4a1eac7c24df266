"""The portal's URLs, every view of it, and a client that opened a link."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from django_webhooks.models import ApiKey
from django_webhooks.portal import links

PORTAL = "webhooks_portal:"


def url(name: str, *args: Any) -> str:
    return reverse(PORTAL + name, args=args)


def open_portal(client: Client, api_key: ApiKey, hours: int | None = None) -> Client:
    """``client`` with a portal session for ``api_key``, opened by a link as a browser would."""
    token, _expires_at = links.issue(api_key, hours)
    response = client.get(url("open", token))
    assert response.status_code == 302, response.content
    return client


#: Every portal view: (method, URL name, what its id is of: None, "webhook" or "attempt").
VIEWS = [
    ("get", "home", None),
    ("get", "add", None),
    ("post", "add", None),
    ("get", "webhook", "webhook"),
    ("get", "change", "webhook"),
    ("post", "change", "webhook"),
    ("get", "delete", "webhook"),
    ("post", "delete", "webhook"),
    ("post", "test", "webhook"),
    ("post", "recover", "webhook"),
    ("post", "reactivate", "webhook"),
    ("post", "deactivate", "webhook"),
    ("post", "redeliver", "attempt"),
    ("get", "signing-secret", None),
    ("post", "reveal", None),
    ("post", "rotate", None),
]
VIEWS_WITH_IDS = [view for view in VIEWS if view[2] is not None]


def view_id(view: tuple[str, str, str | None]) -> str:
    return f"{view[0].upper()} {view[1]}"
