"""Columns that hold secrets: stored and read back, never searched.

A lookup on a secret column is an oracle: ``signing_secret__startswith=whsec_k`` answers
"one row" or "none", and a binary search with ``__lt`` reads the whole secret out of any page
that filters by query string (the admin's change lists do, for every field of the model). So
these fields have no lookups at all: any filter, ordering by comparison or transform on them
raises ``FieldError``, in the admin, in the store's own admins through a relation, anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    _CharField = models.CharField[str, str]
    _TextField = models.TextField[str, str]
else:
    _CharField = models.CharField  # not subscriptable at run time
    _TextField = models.TextField


class SecretFieldMixin:
    is_secret = True

    def get_lookup(self, lookup_name: str) -> None:
        return None

    def get_transform(self, lookup_name: str) -> None:
        return None


class SecretCharField(SecretFieldMixin, _CharField):
    """A CharField whose value no query may look into (a hash, a signing secret)."""


def is_secret(field: Any) -> bool:
    return getattr(field, "is_secret", False)


class SecretTextField(SecretFieldMixin, _TextField):
    """A TextField no query may look into (encrypted custom headers)."""
