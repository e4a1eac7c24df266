from __future__ import annotations

import pytest

from tests.cluster import Cluster
from tests.payload_contract import ContractCheck
from tests.receiver import Receiver

#: The store's schedule scaled down ~100x, and a 1 s deadline, so a full run takes seconds.
FAST = {"RETRY_DELAYS": [0.5, 1, 1.5, 2, 2.5], "TIMEOUT": 1}


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        running = Cluster(FAST, workers=2).start()
    yield running
    running.stop()


@pytest.fixture
def every_commit_wakes():
    """Integration tests run with the real wake-up debounce."""


@pytest.fixture
def receiver():
    """The receiver, checking every delivery against its type's schema (JSON) or XSD (XML)."""
    check = ContractCheck()
    server = Receiver(on_request=check).start()
    yield server
    server.stop()
    check.verify()
