"""Receive the store's webhooks: verify each delivery, handle each event once.

Needs only the standard library and ``pip install standardwebhooks``. Run it with the
signing secret that ``POST /api/signing-secret/rotate/`` gave you::

    WEBHOOK_SECRET=whsec_... python receiver.py 8000

Then subscribe ``http://<this host>:8000/`` with ``POST /api/webhooks/``.

What the store expects back (its defaults):

* ``200`` within 5 seconds means delivered; anything else is retried, up to five times.
  So answer first and do slow work afterwards (a queue, a thread).
* ``400``, ``401``, ``403``, ``404``, ``405``, ``406``, ``410`` or ``411`` switch the webhook
  off. This receiver answers ``401`` when a signature does not verify: if your secret is
  wrong, fix it and switch the webhook back on (``PATCH {"is_active": true}``).
* A retry or a redelivery carries the same ``webhook-id``: handle each id only once.

Deliveries in ``xml`` format verify the same way: call ``verify(..., json_parse=False)`` and
parse the body with ``xml.etree.ElementTree``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY_BYTES = 1024 * 1024


def handle(body: bytes, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
    """The event of a genuine delivery; raises WebhookVerificationError for anything else.

    Checks the ``webhook-signature`` (any of the ``v1,`` signatures, so rotating the secret
    loses nothing) and that ``webhook-timestamp`` is within five minutes of now.
    """
    return Webhook(secret).verify(body, dict(headers))


def make_server(
    secret: str,
    on_event: Callable[[dict[str, Any]], None],
    host: str = "127.0.0.1",
    port: int = 8000,
) -> ThreadingHTTPServer:
    """An HTTP server that verifies each delivery and passes each event to ``on_event`` once."""
    seen: set[str] = set()  # in production: a table with a unique index on the event id
    lock = threading.Lock()

    class DeliveryHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.answer(413, b"too large")
                return
            body = self.rfile.read(length)
            try:
                event = handle(body, dict(self.headers.items()), secret)
            except WebhookVerificationError:
                self.answer(401, b"bad signature")
                return
            with lock:
                first_time = event["id"] not in seen
                seen.add(event["id"])
            if first_time:
                on_event(event)
            self.answer(200, b"ok")

        def answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return ThreadingHTTPServer((host, port), DeliveryHandler)


def print_event(event: dict[str, Any]) -> None:
    print(event["type"], event["id"], event["data"].get("object", {}).get("id"), flush=True)


if __name__ == "__main__":
    server = make_server(
        os.environ["WEBHOOK_SECRET"], print_event, host="0.0.0.0", port=int(sys.argv[1])
    )
    print(f"Listening on port {server.server_address[1]}", flush=True)
    server.serve_forever()
