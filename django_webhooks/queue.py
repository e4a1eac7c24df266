"""Deprecated task paths, kept so that messages queued by django-webhooks 0.1 still run.

A deployment upgraded while its broker holds ``django_webhooks.queue.deliver`` messages
runs them through these aliases; migration 0007 points the sweeper's schedule at the new
path. To be removed in 0.3.
"""

from __future__ import annotations

from .worker.tasks import deliver, sweep

__all__ = ["deliver", "sweep"]
