"""The API's URLs and a client that authenticates with a token."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

API = "webhooks_api:"


def url(name: str, *args: Any) -> str:
    return reverse(API + name, args=args)


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {token}")
    return client
