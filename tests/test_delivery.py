"""The delivery engine at unit level: schedule, verdicts, claims, leases, what is recorded.

HTTP is faked with ``responses`` and time with the ``clock`` fixture; the real queue, the real
receiver and real timing are in tests/integration/.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections import Counter
from datetime import timedelta

import pytest
import responses
from standardwebhooks.webhooks import Webhook as StandardWebhook

from django_webhooks import exceptions, payloads, redelivery, signing, timing
from django_webhooks.models import ApiKey, DeliveryAttempt, Event, Webhook
from django_webhooks.recording import outbox
from django_webhooks.signals import webhook_deactivated, webhook_deleted
from django_webhooks.worker import claims, dispatch, engine, leases, outcomes
from example_project.shop.models import Order

URL = "https://erp.example.com/hooks"
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.webhook(url=URL, events=["order.created"]),
]
Status = DeliveryAttempt.Status


def sent_headers(http_mock):
    return [call.request.headers for call in http_mock.calls]


def test_default_schedule_six_attempts_at_exact_times_then_never(webhook, http_mock, clock):
    http_mock.post(URL, status=500, body="boom")
    start = clock.now
    order = Order.objects.create()
    expected_offsets = [0, 60, 180, 360, 600, 900]  # 60, 120, 180, 240, 300 s after the previous
    sent_at = []
    for offset in expected_offsets:
        if offset:
            clock.now = start + timedelta(seconds=offset) - timedelta(milliseconds=1)
            assert engine.run().sent == 0, f"attempt went early, before +{offset} s"
        clock.now = start + timedelta(seconds=offset)
        assert engine.run().sent == 1
        sent_at.append(clock.now)
    clock.advance(365 * 24 * 3600)
    assert engine.run().sent == 0  # never a 7th
    attempts = list(DeliveryAttempt.objects.order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3, 4, 5, 6]
    assert all(a.status == Status.FAILED for a in attempts)
    assert [a.finished_at for a in attempts] == sent_at
    assert [int(h["X-Webhook-Attempt"]) for h in sent_headers(http_mock)] == [1, 2, 3, 4, 5, 6]
    assert {h["webhook-id"] for h in sent_headers(http_mock)} == {Event.objects.get().pk}
    timestamps = [int(h["webhook-timestamp"]) for h in sent_headers(http_mock)]
    assert timestamps == [int(moment.timestamp()) for moment in sent_at]
    assert json.loads(http_mock.calls[0].request.body)["data"]["object"]["id"] == order.pk


def test_headers_and_signature_per_contract(webhook, http_mock):
    http_mock.post(URL, status=200)
    Order.objects.create()
    engine.run()
    (call,) = http_mock.calls
    headers = call.request.headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Webhook-Event"] == "order.created"
    assert headers["User-Agent"].startswith("django-webhooks/")
    verified = StandardWebhook(webhook.api_key.signing_secret).verify(call.request.body, headers)
    assert verified["type"] == "order.created"


def test_xml_webhooks_get_xml(api_key, woken, http_mock):
    Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"], format="xml")
    http_mock.post(URL, status=200)
    order = Order.objects.create()
    engine.run()
    (call,) = http_mock.calls
    assert call.request.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert f"<id>{order.pk}</id>".encode() in call.request.body
    headers = call.request.headers
    assert signing.verify(
        api_key.signing_secret,
        headers["webhook-id"],
        int(headers["webhook-timestamp"]),
        call.request.body,
        headers["webhook-signature"],
    )


def test_success_is_recorded_and_not_retried(webhook, http_mock):
    http_mock.post(URL, status=200, body="thanks " * 2000)
    Order.objects.create()
    engine.run()
    (attempt,) = DeliveryAttempt.objects.all()
    assert attempt.status == Status.SUCCEEDED
    assert attempt.response_status == 200
    assert attempt.response_excerpt.startswith("thanks")
    assert len(attempt.response_excerpt) == outcomes.RESPONSE_EXCERPT_CHARS
    assert attempt.duration_ms is not None
    assert attempt.error == ""
    assert attempt.lease_expires_at is None
    assert attempt.request_headers["webhook-signature"].endswith("…")
    assert webhook.api_key.signing_secret not in json.dumps(attempt.request_headers)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 405, 406, 410, 411])
def test_deactivating_codes_switch_the_webhook_off_and_cancel_what_is_scheduled(
    webhook, http_mock, clock, code
):
    received = []
    webhook_deactivated.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t")
    try:
        http_mock.post(URL, status=500)
        Order.objects.create()
        engine.run()  # first order fails: a retry is now scheduled
        http_mock.replace(responses.POST, URL, status=code)
        Order.objects.create()
        engine.run()
    finally:
        webhook_deactivated.disconnect(dispatch_uid="t")
    webhook.refresh_from_db()
    assert webhook.is_active is False
    assert str(code) in webhook.deactivated_reason
    statuses = Counter(DeliveryAttempt.objects.values_list("status", flat=True))
    assert statuses == {Status.FAILED: 2, Status.CANCELLED: 1}
    assert received[0]["webhook"].pk == webhook.pk
    clock.advance(3600)
    assert engine.run().sent == 0


def test_the_phrase_deletes_the_webhook_and_keeps_its_attempts(webhook, http_mock):
    received = []
    webhook_deleted.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t")
    try:
        http_mock.post(URL, status=200, body="OK but Please Unsubscribe Me")
        Order.objects.create()
        engine.run()
    finally:
        webhook_deleted.disconnect(dispatch_uid="t")
    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    (attempt,) = DeliveryAttempt.objects.all()
    assert attempt.webhook_id is None
    assert attempt.url == URL
    assert attempt.status == Status.FAILED
    assert "unsubscribe" in attempt.error
    assert received[0]["webhook"].pk == webhook.pk


def test_inactive_or_revoked_webhooks_get_nothing_more(webhook, http_mock, clock):
    http_mock.post(URL, status=500)
    Order.objects.create()
    engine.run()
    Webhook.objects.filter(pk=webhook.pk).update(is_active=False)  # bypasses deactivate()
    clock.advance(60)
    assert engine.run().sent == 0
    assert DeliveryAttempt.objects.get(number=2).status == Status.CANCELLED
    ApiKey.objects.filter(pk=webhook.api_key_id).update(revoked=True)
    Webhook.objects.filter(pk=webhook.pk).update(is_active=True)
    Order.objects.create()
    assert Event.objects.count() == 1  # a revoked key's webhooks are not subscribers
    assert len(http_mock.calls) == 1


def test_body_rendered_once_per_event_and_format(api_key, woken, http_mock, monkeypatch):
    for n in range(10):
        Webhook.objects.create(api_key=api_key, url=f"{URL}/{n}", events=["order.created"])
        http_mock.post(f"{URL}/{n}", status=200)
    renders = []
    original = payloads.render_event
    monkeypatch.setattr(payloads, "render_event", lambda *a: renders.append(a) or original(*a))
    Order.objects.create()
    assert engine.run().succeeded == 10
    assert len(renders) == 1
    assert len({call.request.body for call in http_mock.calls}) == 1


def test_claims_respect_each_webhooks_limit_counted_over_every_worker(api_key, woken, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "CONCURRENCY_PER_WEBHOOK": 2}
    busy = Webhook.objects.create(api_key=api_key, url=URL, events=["order.created"])
    other = Webhook.objects.create(api_key=api_key, url=URL + "/2", events=["order.created"])
    for _ in range(5):
        Order.objects.create()
    dispatch.dispatch_pending()
    claimed, more = claims.claim(10)
    assert Counter(a.webhook_id for a in claimed) == {busy.pk: 2, other.pk: 2}
    assert not more  # the rest waits for room, which another worker would not have either
    assert all(a.status == Status.SENDING for a in claimed)
    assert DeliveryAttempt.objects.filter(status=Status.SENDING).count() == 4
    assert claims.claim(10) == ([], False)  # a second worker: the same limits, all taken
    DeliveryAttempt.objects.filter(pk=claimed[0].pk).update(status=Status.SUCCEEDED)
    again, _ = claims.claim(10)
    assert Counter(a.webhook_id for a in again) == {claimed[0].webhook_id: 1}
    DeliveryAttempt.objects.filter(status=Status.SENDING).update(status=Status.SUCCEEDED)
    limited, more = claims.claim(1)
    assert len(limited) == 1
    assert more  # a worker with a free thread could take the next one


def test_expired_leases_go_back_to_the_queue_and_are_given_up_after_three_then_retried(
    webhook, clock
):
    Order.objects.create()
    dispatch.dispatch_pending()
    (attempt,), _ = claims.claim(5)
    clock.advance(timing.lease_duration().total_seconds() + 1)
    assert leases.release_lost_claims() == 1
    attempt.refresh_from_db()
    assert attempt.status == Status.SCHEDULED
    for _ in range(2):
        claims.claim(5)
        clock.advance(timing.lease_duration().total_seconds() + 1)
        leases.release_lost_claims()
    attempt.refresh_from_db()
    assert attempt.claims == 3
    assert attempt.status == Status.FAILED
    assert "lost 3 times" in attempt.error
    # The schedule goes on: attempt 2, as after any failure, 60 s after this one ended.
    retry = DeliveryAttempt.objects.get(number=2)
    assert (retry.status, retry.trigger, retry.event_id) == (
        Status.SCHEDULED,
        DeliveryAttempt.Trigger.RETRY,
        attempt.event_id,
    )
    assert retry.scheduled_for == attempt.finished_at + timedelta(seconds=60)
    assert leases.release_lost_claims() == 0
    assert DeliveryAttempt.objects.count() == 2


def test_a_dead_local_worker_releases_its_claims_at_once(webhook, clock):
    Order.objects.create()
    dispatch.dispatch_pending()
    claims.claim(5)
    dead = subprocess.Popen(["true"])
    dead.wait()
    DeliveryAttempt.objects.update(claimed_by=f"{socket.gethostname()}:{dead.pid}")
    assert leases.release_lost_claims() == 1
    assert DeliveryAttempt.objects.get().status == Status.SCHEDULED


def test_the_sweep_never_sorts_the_attempt_table(webhook, clock):
    """Meta.ordering (-created_at) would make SQLite walk a whole index: P6 caught it once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    Order.objects.create()
    dispatch.dispatch_pending()
    claims.claim(5)
    DeliveryAttempt.objects.update(claims=timing.MAX_CLAIMS)
    clock.advance(timing.lease_duration().total_seconds() + 1)
    with CaptureQueriesContext(connection) as captured:
        assert leases.release_lost_claims() == 1
    table = DeliveryAttempt._meta.db_table
    selects = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"]
    ]
    assert selects
    assert not [sql for sql in selects if "ORDER BY" in sql]


def test_a_live_or_remote_worker_keeps_its_claims(webhook, clock):
    Order.objects.create()
    dispatch.dispatch_pending()
    (attempt,), _ = claims.claim(5)
    assert attempt.claimed_by == f"{socket.gethostname()}:{os.getpid()}"
    assert leases.release_lost_claims() == 0
    DeliveryAttempt.objects.update(claimed_by="another-host:1")
    assert leases.release_lost_claims() == 0


def test_a_lease_is_not_released_before_it_expires(webhook, clock):
    Order.objects.create()
    dispatch.dispatch_pending()
    claims.claim(5)
    clock.advance(timing.lease_duration().total_seconds() - 1)
    assert leases.release_lost_claims() == 0


def test_redeliver_keeps_the_webhook_id_and_numbers_on(webhook, http_mock):
    http_mock.post(URL, status=200)
    Order.objects.create()
    engine.run()
    first = DeliveryAttempt.objects.get()
    second = redelivery.redeliver(first)
    assert (second.number, second.trigger) == (2, DeliveryAttempt.Trigger.MANUAL)
    with pytest.raises(exceptions.DeliveryRefused):
        redelivery.redeliver(first)  # one is already scheduled
    engine.run()
    ids = [call.request.headers["webhook-id"] for call in http_mock.calls]
    assert ids == [first.event_id, first.event_id]
    assert [call.request.headers["X-Webhook-Attempt"] for call in http_mock.calls] == ["1", "2"]


def test_redeliver_and_test_refuse_inactive_webhooks(webhook, http_mock):
    http_mock.post(URL, status=200)
    Order.objects.create()
    engine.run()
    webhook.deactivate("manual")
    with pytest.raises(exceptions.DeliveryRefused):
        redelivery.redeliver(DeliveryAttempt.objects.get())
    with pytest.raises(exceptions.DeliveryRefused):
        redelivery.send_test(webhook)


def test_test_event_goes_only_to_its_webhook(webhook, api_key, http_mock):
    Webhook.objects.create(api_key=api_key, url=URL + "/other", events=["webhook.test"])
    http_mock.post(URL, status=200)
    redelivery.send_test(webhook)
    engine.run()
    (call,) = http_mock.calls
    body = json.loads(call.request.body)
    assert body["type"] == "webhook.test"
    assert body["data"]["object"]["webhook"] == webhook.pk


def test_dispatch_fans_out_once(webhook, woken):
    outbox.record_events([outbox.NewEvent(type="order.created", data={"object": {}})])
    assert woken == ["default"]
    assert DeliveryAttempt.objects.count() == 0  # the worker fans out, not the saving request
    assert dispatch.dispatch_pending() == 1
    assert dispatch.dispatch_pending() == 0
    assert DeliveryAttempt.objects.count() == 1


def test_a_dispatch_that_finds_nothing_is_one_statement(webhook, woken):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    outbox.record_events([outbox.NewEvent(type="order.created", data={"object": {}})])
    assert dispatch.dispatch_pending() == 1
    with CaptureQueriesContext(connection) as nothing_new:
        assert dispatch.dispatch_pending() == 0
    assert [query["sql"].split()[0] for query in nothing_new.captured_queries] == ["SELECT"]
    outbox.record_events([outbox.NewEvent(type="order.created", data={"object": {}})])
    assert dispatch.dispatch_pending() == 1  # and one that waits is found


def test_event_of_a_vanished_object_is_dispatched_to_nobody(webhook):
    (event,) = Event.objects.bulk_create(
        [Event(type="order.created", object_model="shop.order", object_pk="424242")]
    )
    assert dispatch.dispatch_pending() == 0
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_a_serializer_failure_spares_the_other_events(webhook, monkeypatch):
    good, bad = Order.objects.create(), Order.objects.create()
    original = dispatch.snapshot_of

    def snapshot(order):
        if order.pk == bad.pk:
            raise ValueError("broken serializer")
        return original(order)

    monkeypatch.setattr(dispatch, "snapshot_of", snapshot)
    assert dispatch.dispatch_pending() == 1
    assert DeliveryAttempt.objects.get().event.data["object"]["id"] == good.pk


def test_send_event_validates_and_writes_nothing_on_bad_input(api_key, woken):
    Webhook.objects.create(api_key=api_key, url=URL, events=["customer.deleted"])
    with pytest.raises(ValueError, match="register_event"):
        outbox.send_event("nobody.knows", {"a": 1})
    with pytest.raises(TypeError, match="mapping"):
        outbox.send_event("customer.deleted", ["a"])
    with pytest.raises(TypeError, match="JSON"):
        outbox.send_event("customer.deleted", {"a": object()})
    with pytest.raises(TypeError, match="JSON"):
        outbox.send_event("customer.deleted", {"weight": float("nan")})
    assert Event.objects.count() == 0


def test_an_event_that_cannot_be_rendered_is_cancelled_and_the_others_go(
    webhook, http_mock, monkeypatch
):
    http_mock.post(URL, status=200)
    good, bad = Order.objects.create(), Order.objects.create()
    dispatch.dispatch_pending()
    bad_event = DeliveryAttempt.objects.get(event__data__object__id=bad.pk).event_id
    render = payloads.render_event

    def render_or_fail(event, *args):
        if event.pk == bad_event:
            raise ValueError("a serializer bug")
        return render(event, *args)

    monkeypatch.setattr(payloads, "render_event", render_or_fail)
    stats = engine.run()
    assert (stats.sent, stats.cancelled) == (1, 1)
    assert [json.loads(call.request.body)["data"]["object"]["id"] for call in http_mock.calls] == [
        good.pk
    ]
    outcomes = dict(DeliveryAttempt.objects.values_list("event_id", "status"))
    assert outcomes[bad_event] == Status.CANCELLED
    assert set(outcomes.values()) == {Status.CANCELLED, Status.SUCCEEDED}


def test_an_answer_from_the_old_url_does_not_switch_off_a_moved_webhook(
    webhook, http_mock, monkeypatch
):
    http_mock.post(URL, status=410)
    record = engine.record_outcomes

    def move_then_record(sent, **kwargs):
        Webhook.objects.filter(pk=webhook.pk).update(url="https://erp.example.com/v2/hooks")
        return record(sent, **kwargs)

    monkeypatch.setattr(engine, "record_outcomes", move_then_record)
    Order.objects.create()
    engine.run()
    webhook.refresh_from_db()
    assert webhook.is_active
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status, attempt.response_status, attempt.url) == (Status.FAILED, 410, URL)


def test_a_failed_redelivery_is_not_retried(webhook, http_mock, clock):
    http_mock.post(URL, status=200)
    Order.objects.create()
    engine.run()
    http_mock.replace(responses.POST, URL, status=500)
    again = redelivery.redeliver(DeliveryAttempt.objects.get())
    assert engine.run().sent == 1
    again.refresh_from_db()
    assert again.status == Status.FAILED
    clock.advance(3600)
    assert engine.run().sent == 0
    assert DeliveryAttempt.objects.count() == 2


def test_the_example_store_sends_customer_deleted(api_key, woken):
    from example_project.shop.models import Customer

    Webhook.objects.create(api_key=api_key, url=URL, events=["customer.deleted"])
    customer = Customer.objects.create(name="Ada", email="ada@example.com")
    customer_pk = customer.pk
    customer.delete()
    dispatch.dispatch_pending()
    (event,) = Event.objects.all()
    assert event.type == "customer.deleted"
    assert event.data == {"object": {"id": customer_pk}}  # no personal data in the removal event
    assert DeliveryAttempt.objects.get().event_id == event.pk


def test_after_a_rotation_both_secrets_sign_for_the_grace_period(webhook, http_mock, clock):
    http_mock.post(URL, status=200)
    old_secret = webhook.api_key.signing_secret
    new_secret = webhook.api_key.rotate_signing_secret()
    Order.objects.create()
    engine.run()
    clock.advance(25 * 3600)  # past the 24 h grace: only the new secret signs
    redelivery.send_test(Webhook.objects.get(pk=webhook.pk))
    engine.run()
    first, second = (call.request for call in http_mock.calls)
    for secret in (old_secret, new_secret):
        assert signing.verify(
            secret,
            first.headers["webhook-id"],
            int(first.headers["webhook-timestamp"]),
            first.body,
            first.headers["webhook-signature"],
        )
    assert len(first.headers["webhook-signature"].split()) == 2
    assert len(second.headers["webhook-signature"].split()) == 1
    assert not signing.verify(
        old_secret,
        second.headers["webhook-id"],
        int(second.headers["webhook-timestamp"]),
        second.body,
        second.headers["webhook-signature"],
    )


def test_no_secret_reaches_the_logs_or_the_attempt_rows(api_key, woken, receiver, caplog):
    from tests.receiver import Status

    url = receiver.script("/no", [Status(500, b"nope")])
    Webhook.objects.create(api_key=api_key, url=url, events=["order.created"])
    caplog.set_level("DEBUG")
    Order.objects.create()
    engine.run()
    (request,) = receiver.received("/no")
    key_material = api_key.signing_secret.removeprefix("whsec_")
    assert "POST /no" in caplog.text  # DEBUG logging of the HTTP layer really was on
    assert key_material not in caplog.text
    assert request.headers["webhook-signature"] not in caplog.text
    for row in DeliveryAttempt.objects.values():
        assert key_material not in json.dumps(row, default=str)
        assert request.headers["webhook-signature"] not in json.dumps(row, default=str)
