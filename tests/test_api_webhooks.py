"""/api/webhooks/: a key's subscriptions, validated strictly, invisible to other keys."""

import json
from datetime import datetime
from urllib.parse import quote

import pytest

from django_webhooks.admin.forms import WebhookForm
from django_webhooks.api.serializers import WebhookSerializer
from django_webhooks.models import DeliveryAttempt, Webhook
from tests.api_support import url
from tests.factories import Status, make_attempt, make_key, make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]

ERP = "https://erp.example.com/hooks"


# --- list and read --------------------------------------------------------------------------


def test_list_shows_only_the_callers_webhooks_newest_first(accounting, warehouse):
    key, client = accounting
    older = make_webhook(key, url="https://erp.example.com/1")
    newer = make_webhook(key, url="https://erp.example.com/2")
    make_webhook(warehouse[0], url="https://wms.example.com/")

    response = client.get(url("webhook-list"))

    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [newer.pk, older.pk]


def test_read_gives_the_webhook_and_nothing_secret(accounting):
    key, client = accounting
    webhook = make_webhook(key, events=["order.created", "order.deleted"], format="xml")

    response = client.get(url("webhook-detail", webhook.pk))

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": webhook.pk,
        "url": ERP,
        "events": ["order.created", "order.deleted"],
        "format": "xml",
        "is_active": True,
        "ordered": False,
        "filter": {},
        "header_names": [],
        "deactivated_reason": "",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert key.signing_secret not in response.content.decode()
    assert key.hashed_key not in response.content.decode()


# --- create ---------------------------------------------------------------------------------


def test_create_answers_201_with_the_webhook(accounting):
    key, client = accounting

    response = client.post(
        url("webhook-list"), {"url": ERP, "events": ["order.created"]}, format="json"
    )

    assert response.status_code == 201
    webhook = Webhook.objects.get()
    assert response.json()["id"] == webhook.pk
    assert response.json()["format"] == "json"
    assert response.json()["is_active"] is True
    assert webhook.api_key == key
    assert webhook.url == ERP
    assert webhook.events == ["order.created"]
    assert response["Location"].endswith(url("webhook-detail", webhook.pk))


def test_create_takes_format_and_is_active(accounting):
    _key, client = accounting

    response = client.post(
        url("webhook-list"),
        {"url": ERP, "events": ["order.deleted"], "format": "xml", "is_active": False},
        format="json",
    )

    assert response.status_code == 201
    webhook = Webhook.objects.get()
    assert (webhook.format, webhook.is_active) == ("xml", False)


def test_create_takes_a_filter_and_reads_it_back(accounting):
    _key, client = accounting
    supplier_lines = {"object": {"status": {"in": ["paid"]}}, "items": {"supplier": "acme"}}

    response = client.post(
        url("webhook-list"),
        {"url": ERP, "events": ["order.created"], "filter": supplier_lines},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["filter"] == supplier_lines
    assert Webhook.objects.get().filter == supplier_lines


def test_duplicate_event_types_are_kept_once_in_order(accounting):
    _key, client = accounting

    response = client.post(
        url("webhook-list"),
        {"url": ERP, "events": ["order.deleted", "order.created", "order.deleted"]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["events"] == ["order.deleted", "order.created"]
    assert Webhook.objects.get().events == ["order.deleted", "order.created"]


def test_read_only_fields_sent_back_are_ignored(accounting):
    key, client = accounting
    other = make_webhook(key)

    response = client.post(
        url("webhook-list"),
        {
            "id": other.pk,
            "url": ERP,
            "events": ["order.created"],
            "deactivated_reason": "mine",
            "created_at": "2000-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 201
    created = Webhook.objects.get(pk=response.json()["id"])
    assert created.pk != other.pk
    assert created.deactivated_reason == ""
    assert created.created_at.year > 2000


# --- validation: one clear error per field, nothing written ----------------------------------

VALID = {"url": ERP, "events": ["order.created"]}
TOO_LONG = "https://erp.example.com/" + "a" * (2048 - len("https://erp.example.com/") + 1)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"url": None}, "url", "This field may not be null."),
        ({"url": ""}, "url", "This field may not be blank."),
        ({"url": 42}, "url", "Use an http:// or https:// URL."),
        ({"url": ["https://a.example.com"]}, "url", "Not a valid string."),
        ({"url": "ftp://erp.example.com/x"}, "url", "Use an http:// or https:// URL."),
        ({"url": "erp.example.com/hooks"}, "url", "Use an http:// or https:// URL."),
        ({"url": "https://"}, "url", "Give the URL a host name."),
        ({"url": "https:///path"}, "url", "Give the URL a host name."),
        (
            {"url": "https://user:pw@erp.example.com/"},
            "url",
            "Leave credentials (user:password@) out of the URL.",
        ),
        (
            {"url": "https://user@erp.example.com/"},
            "url",
            "Leave credentials (user:password@) out of the URL.",
        ),
        ({"url": "https://erp example.com/"}, "url", "Enter a valid URL."),
        ({"url": "http://[::1"}, "url", "Enter a valid URL."),
        ({"url": "http://[erp]/"}, "url", "Enter a valid URL."),
        ({"url": "https://erp.example.com:99999/"}, "url", "Enter a valid URL."),
        ({"url": TOO_LONG}, "url", "Ensure this field has no more than 2048 characters."),
        ({"events": None}, "events", "This field may not be null."),
        ({"events": []}, "events", "Choose at least one event type."),
        ({"events": "order.created"}, "events", "Expected a list of event types."),
        ({"events": {"order.created": True}}, "events", "Expected a list of event types."),
        (
            {"events": ["order.created", "order.shipped"]},
            "events",
            "Unknown event type(s): 'order.shipped'. GET event-types/ lists the valid ones.",
        ),
        (
            {"events": [1, None]},
            "events",
            "Unknown event type(s): 1, None. GET event-types/ lists the valid ones.",
        ),
        ({"format": "yaml"}, "format", '"yaml" is not a valid choice.'),
        ({"format": None}, "format", "This field may not be null."),
        ({"is_active": "yes"}, "is_active", "Must be a valid boolean."),
        ({"is_active": 1}, "is_active", "Must be a valid boolean."),
        ({"is_active": None}, "is_active", "This field may not be null."),
        ({"filter": None}, "filter", "This field may not be null."),
        (
            {"filter": {"items": {"sku": {"starts": "AC-"}}}},
            "filter",
            "items.sku: unknown operator “starts”; use one of equals, in, exists, prefix.",
        ),
        (
            {"filter": {"object": {"status": {"in": "paid"}}}},
            "filter",
            "object.status: “in” needs a non-empty list of values.",
        ),
        (
            {"filter": {"lines": {}}},
            "filter",
            "Unknown filter key(s): lines. Use “object” and/or “items”.",
        ),
    ],
)
def test_each_invalid_field_gets_one_clear_error_and_nothing_is_written(
    accounting, changes, field, message
):
    _key, client = accounting

    response = client.post(url("webhook-list"), {**VALID, **changes}, format="json")

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("missing", ["url", "events"])
def test_url_and_events_are_required(accounting, missing):
    _key, client = accounting
    body = {name: value for name, value in VALID.items() if name != missing}

    response = client.post(url("webhook-list"), body, format="json")

    assert response.status_code == 400
    assert response.json() == {missing: ["This field is required."]}
    assert not Webhook.objects.exists()


def test_a_url_of_exactly_2048_characters_is_accepted(accounting):
    _key, client = accounting
    longest = TOO_LONG[:-1]
    assert len(longest) == 2048

    response = client.post(url("webhook-list"), {**VALID, "url": longest}, format="json")

    assert response.status_code == 201


def test_several_unknown_event_types_are_named_in_one_bounded_message(accounting):
    _key, client = accounting
    unknown = [f"order.nope{number}" for number in range(50)]

    response = client.post(url("webhook-list"), {**VALID, "events": unknown}, format="json")

    assert response.status_code == 400
    (message,) = response.json()["events"]
    assert "'order.nope0'" in message
    assert "'order.nope5'" not in message
    assert "…" in message


def test_unknown_and_invalid_fields_are_reported_together(accounting):
    _key, client = accounting

    response = client.post(
        url("webhook-list"), {**VALID, "url": "ftp://x.example.com", "colour": 1}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "url": ["Use an http:// or https:// URL."],
        "colour": [
            "Unknown field. The fields are: url, events, format, is_active, ordered, filter, "
            "headers."
        ],
    }


def test_unknown_fields_are_refused(accounting):
    _key, client = accounting

    response = client.post(
        url("webhook-list"), {**VALID, "is_activ": False, "secret": "x"}, format="json"
    )

    assert response.status_code == 400
    message = (
        "Unknown field. The fields are: url, events, format, is_active, ordered, filter, headers."
    )
    assert response.json() == {"is_activ": [message], "secret": [message]}
    assert not Webhook.objects.exists()


def test_a_webhook_cannot_be_created_for_another_key(accounting, warehouse):
    _key, client = accounting
    other_key, _other_client = warehouse

    response = client.post(url("webhook-list"), {**VALID, "api_key": other_key.pk}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["api_key"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "destination",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://api.localhost/hooks",
        "http://10.0.0.5/hooks",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://0.0.0.0/",
    ],
)
def test_private_destinations_are_refused_unless_allowed(accounting, settings, destination):
    _key, client = accounting
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": False}

    refused = client.post(url("webhook-list"), {**VALID, "url": destination}, format="json")

    assert refused.status_code == 400
    (message,) = refused.json()["url"]
    assert message.startswith("Deliveries to this host are not allowed:")
    assert not Webhook.objects.exists()

    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": True}
    allowed = client.post(url("webhook-list"), {**VALID, "url": destination}, format="json")
    assert allowed.status_code == 201


def test_the_admin_form_applies_the_private_destination_rule_too(accounting, settings):
    key, _client = accounting
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": False}
    data = {"api_key": key.pk, "url": "http://10.0.0.5/hooks", "events": ["order.created"]}

    form = WebhookForm(data={**data, "format": "json", "is_active": True})

    assert not form.is_valid()
    assert form.errors["url"] == ["Deliveries to this host are not allowed: private address."]


def test_public_ip_literals_and_names_pass_the_private_destination_rule(accounting, settings):
    _key, client = accounting
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": False}

    for destination in ["https://93.184.215.14/hooks", "https://erp.example.com/"]:
        response = client.post(url("webhook-list"), {**VALID, "url": destination}, format="json")
        assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"url": "https://erp.example.com", "events": [', "application/json"),
        (b"[]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"42", "application/json"),
        (b"null", "application/json"),
        (b'{"url": NaN, "events": ["order.created"]}', "application/json"),
        (b'{"url": "\xff\xfe"}', "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ],
)
def test_unusable_bodies_answer_400(accounting, body, content_type):
    _key, client = accounting

    response = client.generic("POST", url("webhook-list"), body, content_type=content_type)

    assert response.status_code == 400
    assert not Webhook.objects.exists()


def test_a_body_larger_than_data_upload_max_memory_size_answers_400(accounting, settings):
    _key, client = accounting
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({**VALID, "url": "https://erp.example.com/" + "a" * 2000})

    response = client.generic("POST", url("webhook-list"), body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "The request body is larger than 1000 bytes."}
    assert not Webhook.objects.exists()


def test_a_body_within_data_upload_max_memory_size_is_read(accounting, settings):
    _key, client = accounting
    body = json.dumps(VALID)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)

    response = client.generic("POST", url("webhook-list"), body, content_type="application/json")

    assert response.status_code == 201


def test_form_bodies_answer_415(accounting):
    _key, client = accounting

    response = client.post(url("webhook-list"), {"url": ERP, "events": "order.created"})

    assert response.status_code == 415
    assert not Webhook.objects.exists()


# --- change ---------------------------------------------------------------------------------


def test_put_replaces_the_webhook(accounting):
    key, client = accounting
    webhook = make_webhook(key)

    response = client.put(
        url("webhook-detail", webhook.pk),
        {"url": "https://erp.example.com/v2", "events": ["order.deleted"], "format": "xml"},
        format="json",
    )

    assert response.status_code == 200
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events, webhook.format) == (
        "https://erp.example.com/v2",
        ["order.deleted"],
        "xml",
    )


def test_put_without_the_required_fields_changes_nothing(accounting):
    key, client = accounting
    webhook = make_webhook(key)

    response = client.put(
        url("webhook-detail", webhook.pk), {"url": "https://erp.example.com/v2"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"events": ["This field is required."]}
    webhook.refresh_from_db()
    assert webhook.url == ERP


def test_get_then_put_the_same_body_works(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    body = client.get(url("webhook-detail", webhook.pk)).json()

    response = client.put(
        url("webhook-detail", webhook.pk), {**body, "format": "xml"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["format"] == "xml"


def test_patch_changes_only_what_is_sent(accounting):
    key, client = accounting
    webhook = make_webhook(key, events=["order.created", "order.deleted"])

    response = client.patch(
        url("webhook-detail", webhook.pk), {"url": "https://erp.example.com/v2"}, format="json"
    )

    assert response.status_code == 200
    webhook.refresh_from_db()
    assert webhook.url == "https://erp.example.com/v2"
    assert webhook.events == ["order.created", "order.deleted"]


def test_an_invalid_patch_writes_nothing(accounting):
    key, client = accounting
    webhook = make_webhook(key)

    response = client.patch(
        url("webhook-detail", webhook.pk),
        {"url": "https://erp.example.com/v2", "events": []},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"events": ["Choose at least one event type."]}
    webhook.refresh_from_db()
    assert webhook.url == ERP


def test_patch_is_active_false_deactivates_and_cancels_scheduled_attempts(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    scheduled = make_attempt(webhook, Status.SCHEDULED)
    failed = make_attempt(webhook, Status.FAILED)

    response = client.patch(url("webhook-detail", webhook.pk), {"is_active": False}, format="json")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["deactivated_reason"] == "Switched off through the API."
    assert datetime.fromisoformat(response.json()["updated_at"]) > webhook.updated_at
    webhook.refresh_from_db()
    assert webhook.is_active is False
    scheduled.refresh_from_db()
    failed.refresh_from_db()
    assert scheduled.status == DeliveryAttempt.Status.CANCELLED
    assert failed.status == DeliveryAttempt.Status.FAILED


def test_reactivating_clears_the_reason(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    webhook.deactivate("HTTP 410: the webhook was deactivated.")

    response = client.patch(url("webhook-detail", webhook.pk), {"is_active": True}, format="json")

    assert response.status_code == 200
    webhook.refresh_from_db()
    assert (webhook.is_active, webhook.deactivated_reason) == (True, "")


def test_switching_off_an_inactive_webhook_keeps_its_reason(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    webhook.deactivate("HTTP 410: the webhook was deactivated.")

    response = client.patch(url("webhook-detail", webhook.pk), {"is_active": False}, format="json")

    assert response.status_code == 200
    webhook.refresh_from_db()
    assert webhook.deactivated_reason == "HTTP 410: the webhook was deactivated."


def test_an_update_does_not_undo_a_concurrent_switch_off(accounting, monkeypatch):
    key, client = accounting
    webhook = make_webhook(key)
    validate_url = WebhookSerializer.validate_url

    def switched_off_meanwhile(serializer, value):
        # The delivery engine switches the webhook off after the view loaded it.
        Webhook.objects.filter(pk=webhook.pk).update(is_active=False, deactivated_reason="410")
        return validate_url(serializer, value)

    monkeypatch.setattr(WebhookSerializer, "validate_url", switched_off_meanwhile)

    response = client.patch(
        url("webhook-detail", webhook.pk), {"url": "https://erp.example.com/v2"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    webhook.refresh_from_db()
    assert (webhook.is_active, webhook.url) == (False, "https://erp.example.com/v2")


# --- delete ---------------------------------------------------------------------------------


def test_delete_answers_204_and_keeps_the_log(accounting):
    key, client = accounting
    webhook = make_webhook(key)
    failed = make_attempt(webhook, Status.FAILED)
    scheduled = make_attempt(webhook, Status.SCHEDULED)

    response = client.delete(url("webhook-detail", webhook.pk))

    assert response.status_code == 204
    assert not Webhook.objects.exists()
    failed.refresh_from_db()
    scheduled.refresh_from_db()
    assert failed.webhook_id is None
    assert failed.status == DeliveryAttempt.Status.FAILED
    assert scheduled.status == DeliveryAttempt.Status.CANCELLED


# --- another key's webhook ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("get", None),
        ("put", {"url": "https://evil.example.com/", "events": ["order.deleted"]}),
        ("patch", {"url": "https://evil.example.com/", "is_active": False}),
        ("delete", None),
    ],
)
def test_another_keys_webhook_answers_404_and_is_left_alone(accounting, warehouse, method, body):
    key, _client = accounting
    webhook = make_webhook(key)
    scheduled = make_attempt(webhook, Status.SCHEDULED)
    _other_key, intruder = warehouse

    response = getattr(intruder, method)(url("webhook-detail", webhook.pk), body, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}  # as for an id that does not exist
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events, webhook.is_active) == (ERP, ["order.created"], True)
    scheduled.refresh_from_db()
    assert scheduled.status == DeliveryAttempt.Status.SCHEDULED


def test_another_keys_webhook_is_not_listed(accounting, warehouse):
    make_webhook(accounting[0])

    assert warehouse[1].get(url("webhook-list")).json() == []


@pytest.mark.parametrize(
    "spelling", ["abc", ".", "0", "-1", "99999999999999999999999", "+{}", "0{}", "{}.0", " {}"]
)
def test_ids_in_any_but_the_plain_spelling_answer_a_json_404(accounting, spelling):
    key, client = accounting
    webhook = make_webhook(key)
    attempt = make_attempt(webhook, Status.FAILED)
    webhook_id = quote(spelling.format(webhook.pk))
    attempt_id = quote(spelling.format(attempt.pk))

    answers = [
        client.get(f"{url('webhook-list')}{webhook_id}/"),
        client.post(f"{url('webhook-list')}{webhook_id}/test/"),
        client.post(f"/api/attempts/{attempt_id}/redeliver/"),
    ]

    for answer in answers:
        assert answer.status_code == 404
        assert answer["Content-Type"] == "application/json"
    assert DeliveryAttempt.objects.count() == 1


def test_a_test_delivery_sends_the_example_of_the_type_asked_for():
    from django_webhooks import catalog

    api_key, client = make_key()
    webhook = make_webhook(api_key)

    answer = client.post(
        url("webhook-test", webhook.pk), {"type": "order.status_changed"}, format="json"
    )

    assert answer.status_code == 202
    attempt = DeliveryAttempt.objects.get(pk=answer.json()["id"])
    assert attempt.event_type == attempt.event.type == "order.status_changed"
    assert attempt.trigger == DeliveryAttempt.Trigger.TEST
    assert attempt.event.data == catalog.entry("order.status_changed").example["data"]


def test_a_test_delivery_without_a_body_is_webhook_test():
    api_key, client = make_key()
    webhook = make_webhook(api_key)

    answer = client.post(url("webhook-test", webhook.pk))

    assert answer.status_code == 202
    assert DeliveryAttempt.objects.get(pk=answer.json()["id"]).event.data["object"] == {
        "webhook": webhook.pk,
        "url": webhook.url,
        "message": "This is a test delivery from django-webhooks.",
    }


@pytest.mark.parametrize("asked", ["order.exploded", 7, None, ["order.created"]])
def test_a_test_delivery_of_an_unknown_type_is_a_400_naming_it(asked):
    api_key, client = make_key()
    webhook = make_webhook(api_key)

    answer = client.post(url("webhook-test", webhook.pk), {"type": asked}, format="json")

    assert answer.status_code == 400
    assert list(answer.json()) == ["type"]
    assert repr(asked)[:100] in answer.json()["type"][0]
    assert not DeliveryAttempt.objects.exists()
