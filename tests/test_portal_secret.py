"""The signing secret in the portal: revealed on a click and logged, rotated with its overlap,
and the two verification snippets, run against real signed deliveries."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from django_webhooks import redelivery
from django_webhooks.models import Webhook
from django_webhooks.portal import links, session, snippets
from django_webhooks.worker import engine
from tests.portal_support import open_portal, url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]

NODE = shutil.which("node")


@pytest.fixture
def portal(client, api_key):
    return open_portal(client, api_key)


def shown_secret(response) -> str | None:
    found = re.search(r'<code id="signing-secret"[^>]*>([^<]+)</code>', response.content.decode())
    return html.unescape(found[1]) if found else None


def test_the_page_hides_the_secret_until_asked(portal, api_key):
    page = portal.get(url("signing-secret"))

    assert shown_secret(page) is None
    assert api_key.signing_secret not in page.content.decode()
    assert b"Reveal signing secret" in page.content


def test_revealing_shows_it_once_and_logs_it_without_it(portal, api_key, caplog):
    with caplog.at_level("INFO", logger="django_webhooks.portal"):
        response = portal.post(url("reveal"))

    assert shown_secret(response) == api_key.signing_secret
    assert "no-store" in response["Cache-Control"]
    assert "signing secret of API key 'Accounting'" in caplog.text
    assert "was revealed to 127.0.0.1" in caplog.text
    assert api_key.signing_secret not in caplog.text
    assert all(api_key.signing_secret not in morsel.value for morsel in portal.cookies.values())
    assert shown_secret(portal.get(url("signing-secret"))) is None


def test_rotating_shows_the_new_secret_keeps_the_old_one_a_while_and_the_session(
    portal, api_key, clock, caplog
):
    earlier_link, _expires_at = links.issue(api_key)
    old = api_key.signing_secret
    form = portal.get(url("signing-secret")).content.decode()
    rotating = re.search(r'name="rotating" value="(\w+)"', form)[1]
    assert "For 24 hours after that, each delivery carries two signatures" in form

    with caplog.at_level("INFO", logger="django_webhooks.portal"):
        response = portal.post(url("rotate"), {"rotating": rotating})

    api_key.refresh_from_db()
    assert api_key.signing_secret != old
    assert shown_secret(response) == api_key.signing_secret
    assert api_key.active_signing_secrets() == [api_key.signing_secret, old]
    assert api_key.previous_signing_secret_expires_at == clock.now + timedelta(hours=24)
    assert "was rotated by 127.0.0.1" in caplog.text
    assert api_key.signing_secret not in caplog.text
    assert old not in caplog.text
    # This session goes on, bound to the new secret; links and sessions made before do not.
    assert portal.get(url("home")).status_code == 200
    assert session.COOKIE_NAME in response.cookies
    refused = portal.get(url("open", earlier_link))
    assert b"This link is no longer valid" in refused.content


def test_a_resubmitted_rotation_rotates_nothing(portal, api_key):
    rotating = links.key_version(api_key)
    portal.post(url("rotate"), {"rotating": rotating})
    api_key.refresh_from_db()
    rotated = api_key.signing_secret

    again = portal.post(url("rotate"), {"rotating": rotating}, follow=True)

    api_key.refresh_from_db()
    assert api_key.signing_secret == rotated
    assert b"The signing secret was rotated meanwhile; nothing was changed." in again.content


def test_the_page_shows_the_snippets_it_is_tested_with(portal):
    page = html.unescape(portal.get(url("signing-secret")).content.decode())

    assert snippets.PYTHON in page
    assert snippets.NODE in page


@pytest.fixture
def deliveries(api_key, receiver, woken):
    """Two real deliveries to a receiver: one signed before a rotation, one during its overlap."""
    webhook = Webhook.objects.create(
        api_key=api_key, url=receiver.url("/in"), events=["order.created"]
    )
    redelivery.send_test(webhook)
    engine.run()
    old = api_key.signing_secret
    new = api_key.rotate_signing_secret()
    redelivery.send_test(webhook)
    engine.run()
    before, during = receiver.wait_for(2, "/in")
    return old, new, before, during


@pytest.mark.django_db(transaction=True)
def test_the_python_snippet_verifies_real_deliveries(deliveries, monkeypatch):
    old, new, before, during = deliveries

    def verified(body: bytes, headers: dict, secret: str) -> bool:
        monkeypatch.setenv("WEBHOOK_SECRET", secret)
        namespace: dict = {}
        exec(snippets.PYTHON, namespace)
        return namespace["verified"](body, headers)

    assert verified(before.body, before.headers, old)
    assert not verified(before.body, before.headers, new)
    assert verified(during.body, during.headers, old)
    assert verified(during.body, during.headers, new)
    assert not verified(during.body + b" ", during.headers, new)


@pytest.mark.skipif(NODE is None, reason="Node.js not installed: the JavaScript snippet is untried")
@pytest.mark.django_db(transaction=True)
def test_the_node_snippet_verifies_real_deliveries(deliveries, tmp_path):
    old, new, before, during = deliveries
    (tmp_path / "verify.js").write_text(snippets.NODE)
    runner = tmp_path / "run.js"
    runner.write_text(
        'const { verified } = require("./verify.js");\n'
        'const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));\n'
        'const body = Buffer.from(input.body, "base64");\n'
        "process.stdout.write(String(verified(body, input.headers)));\n"
    )

    def verified(received, secret: str, body: bytes | None = None) -> bool:
        document = {
            # As Node's req.headers has them: lower case.
            "headers": {name.lower(): value for name, value in received.headers.items()},
            "body": base64.b64encode(received.body if body is None else body).decode(),
        }
        result = subprocess.run(
            [NODE, str(runner)],
            input=json.dumps(document),
            capture_output=True,
            text=True,
            env={"WEBHOOK_SECRET": secret, "PATH": "/usr/bin:/bin"},
            timeout=30,
            check=True,
        )
        return {"true": True, "false": False}[result.stdout]

    assert verified(before, old)
    assert not verified(before, new)
    assert verified(during, old)
    assert verified(during, new)
    assert not verified(during, new, body=during.body + b" ")


def test_an_old_delivery_fails_the_snippets_timestamp_check(monkeypatch):
    from standardwebhooks.webhooks import Webhook as StandardWebhook

    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"id": "evt_1"}'
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(int(ten_minutes_ago.timestamp())),
        "webhook-signature": StandardWebhook(secret).sign("evt_1", ten_minutes_ago, body.decode()),
    }
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    namespace: dict = {}
    exec(snippets.PYTHON, namespace)

    assert not namespace["verified"](body, headers)
