"""Every body a test receiver gets must match its type's schema in the catalog.

The integration tests' receiver (tests/integration/conftest.py) checks each delivery as it
arrives: JSON against the type's JSON Schema (formats asserted), XML against its XSD. A
payload that changes without its schema fails the test that delivered it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

from jsonschema import Draft202012Validator
from lxml import etree

from django_webhooks import catalog
from tests import artifacts
from tests.receiver import Received

#: Bodies checked in this test run, by format (reported to test-artifacts/).
CHECKED: Counter = Counter()


def problems_with(event_type: str, content_type: str, body: bytes) -> list[str]:
    """What is wrong with ``body`` as a delivery of ``event_type``; [] when it is right."""
    entry = catalog.entry(event_type)
    if entry is None:
        return [f"{event_type!r} is not in the catalog"]
    if "xml" in content_type:
        schema = etree.XMLSchema(etree.fromstring(catalog.xsd(event_type).encode()))
        if schema.validate(etree.fromstring(body)):
            return []
        return [f"XML: {error.message} (line {error.line})" for error in schema.error_log]
    validator = Draft202012Validator(
        entry.schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"JSON at {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(json.loads(body))
    ]


class ContractCheck:
    """A receiver's ``on_request``: checks each delivery, remembers what was wrong."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.checked: Counter = Counter()
        self._lock = threading.Lock()

    def __call__(self, received: Received) -> None:
        event_type = received.headers.get("X-Webhook-Event")
        if not event_type:
            return
        declared = received.headers.get("Content-Length")
        if declared is not None and len(received.body) != int(declared):
            return  # cut off: its sender died mid-request (the fault tests kill clusters)
        content_type = received.headers.get("Content-Type", "")
        try:
            problems = problems_with(event_type, content_type, received.body)
        except Exception as error:  # noqa: BLE001 - an unparsable body is a failure to report
            problems = [f"{type(error).__name__}: {error}"]
        with self._lock:
            self.checked["xml" if "xml" in content_type else "json"] += 1
            self.failures += [f"{event_type} to {received.path}: {p}" for p in problems[:5]]

    def verify(self) -> None:
        CHECKED.update(self.checked)
        artifacts.report(
            "payload_contract.json",
            "delivered bodies validated against their type's schema",
            json=CHECKED["json"],
            xml=CHECKED["xml"],
        )
        assert not self.failures, "bodies that break their schema:\n" + "\n".join(
            self.failures[:20]
        )
