"""A django-oscar 4.2 shop (tests.oscar.settings), run by ``make test-oscar`` (see plugin.py)."""

from __future__ import annotations

import pytest

from tests.cluster import Cluster
from tests.integration.conftest import FAST


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker):
    """A real ``manage.py qcluster`` of the shop, on the live test database."""
    with django_db_blocker.unblock():
        running = Cluster(FAST, workers=2, settings_module="tests.oscar.settings").start()
    yield running
    running.stop()


@pytest.fixture
def every_commit_wakes():
    """With a real qcluster, the real wake-up debounce (tests/conftest.py shortens it)."""
