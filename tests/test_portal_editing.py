"""Adding, changing and deleting webhooks in the portal: the API's serializer decides, so the
same input is refused with the same words in both."""

from __future__ import annotations

import html
import re

import pytest

from django_webhooks.api.serializers import WebhookSerializer
from django_webhooks.models import DeliveryAttempt, Webhook
from django_webhooks.portal.forms import NOT_IN_THE_FORM, WebhookForm
from tests.api_support import url as api_url
from tests.factories import Status, make_attempt
from tests.portal_support import open_portal, url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("woken", "fresh_throttle_counts")]


@pytest.fixture
def portal(client, accounting):
    return open_portal(client, accounting[0])


def field_errors(response) -> dict[str, list[str]]:
    page = response.content.decode()
    found = {
        name: [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", items)]
        for name, items in re.findall(
            r'<ul class="pt-errors" id="id_(\w+)_error">(.*?)</ul>', page, re.S
        )
    }
    general = re.search(r'role="alert">.*?<ul class="pt-errors">(.*?)</ul>', page, re.S)
    if general:
        found["non_field_errors"] = [
            html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", general[1])
        ]
    return found


def as_form(body: dict) -> dict:
    form = dict(body)
    if "filter" in form:
        form["filter"] = __import__("json").dumps(form["filter"])
    return form


def test_the_form_has_the_serializers_writable_fields():
    writable = {name for name, field in WebhookSerializer().fields.items() if not field.read_only}

    assert set(WebhookForm(api_key=None).fields) == writable - NOT_IN_THE_FORM


def test_adding_a_webhook(portal, accounting):
    response = portal.post(
        url("add"),
        {
            "url": "https://accounting.example/hooks",
            "events": ["order.created", "order.deleted"],
            "format": "xml",
            "filter": '{"object": {"status": "paid"}}',
        },
    )

    webhook = Webhook.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("webhook", webhook.pk)
    assert webhook.api_key == accounting[0]
    assert webhook.events == ["order.created", "order.deleted"]
    assert webhook.format == "xml"
    assert webhook.filter == {"object": {"status": "paid"}}
    assert webhook.is_active


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"url": "ftp://files.example/in", "events": ["order.created"]}, id="scheme"),
        pytest.param({"url": "", "events": []}, id="empty"),
        pytest.param(
            {"url": "https://user:pw@erp.example/in", "events": ["order.created"]}, id="userinfo"
        ),
        pytest.param({"url": "https://erp.example/in", "events": ["order.shipped"]}, id="type"),
        pytest.param(
            {"url": "https://erp.example/in", "events": ["order.created"], "format": "yaml"},
            id="format",
        ),
        pytest.param(
            {
                "url": "https://erp.example/in",
                "events": ["order.created"],
                "filter": {"object": {"status": {"between": [1, 2]}}},
            },
            id="filter operator",
        ),
        pytest.param(
            {
                "url": "https://erp.example/in",
                "events": ["order.created"],
                "filter": {"object": {"colour": "red"}},
            },
            id="filter for the types",
        ),
    ],
)
def test_the_portal_refuses_what_the_api_refuses_in_its_words(portal, accounting, body):
    api = accounting[1].post(api_url("webhook-list"), body, format="json")
    assert api.status_code == 400

    response = portal.post(url("add"), as_form(body))

    assert response.status_code == 200
    assert field_errors(response) == {
        name: list(map(str, errors)) for name, errors in api.json().items()
    }
    assert not Webhook.objects.exists()


def test_a_filter_that_is_no_json_is_refused(portal):
    response = portal.post(
        url("add"), {"url": "https://erp.example/in", "events": ["order.created"], "filter": "{"}
    )

    assert field_errors(response) == {"filter": ["Enter valid JSON."]}
    assert not Webhook.objects.exists()


def test_the_keys_webhook_cap_holds_in_the_portal(portal, accounting, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "MAX_WEBHOOKS_PER_KEY": 1}
    body = {"url": "https://erp.example/one", "events": ["order.created"]}
    assert portal.post(url("add"), body).status_code == 302

    api = accounting[1].post(api_url("webhook-list"), body, format="json")
    response = portal.post(url("add"), body)

    assert field_errors(response)["non_field_errors"] == api.json()["non_field_errors"]
    assert Webhook.objects.count() == 1


def test_changing_a_webhook_shows_and_keeps_what_it_has(portal, accounting):
    webhook = Webhook.objects.create(
        api_key=accounting[0],
        url="https://erp.example/old",
        events=["order.deleted"],
        filter={"object": {"status": "paid"}},
    )
    webhook.deactivate("Switched off by the store.")

    form = portal.get(url("change", webhook.pk)).content.decode()
    assert 'value="https://erp.example/old"' in form
    assert re.search(r'value="order.deleted"[^>]*checked', form)
    assert "&quot;status&quot;: &quot;paid&quot;" in form

    refused = portal.post(url("change", webhook.pk), {"url": "nope", "events": ["order.created"]})
    assert "url" in field_errors(refused)
    webhook.refresh_from_db()
    assert webhook.url == "https://erp.example/old"

    response = portal.post(
        url("change", webhook.pk),
        {
            "url": "https://erp.example/new",
            "events": ["order.created"],
            "format": "json",
            "filter": "",  # emptied
        },
        follow=True,
    )
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events, webhook.filter) == (
        "https://erp.example/new",
        ["order.created"],
        {},
    )
    assert not webhook.is_active  # switching on is the Reactivate button's
    assert b"The webhook was changed." in response.content


def test_deleting_a_webhook_keeps_its_log(portal, accounting):
    webhook = Webhook.objects.create(
        api_key=accounting[0], url="https://erp.example/gone", events=["order.created"]
    )
    delivered = make_attempt(webhook, Status.SUCCEEDED)
    scheduled = make_attempt(webhook, Status.SCHEDULED)

    confirm = portal.get(url("delete", webhook.pk))
    assert b"This cannot be undone" in confirm.content
    assert Webhook.objects.filter(pk=webhook.pk).exists()
    response = portal.post(url("delete", webhook.pk), follow=True)

    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    assert DeliveryAttempt.objects.filter(pk=delivered.pk, webhook=None).exists()
    assert DeliveryAttempt.objects.get(pk=scheduled.pk).status == Status.CANCELLED
    assert b"was deleted" in response.content


def test_each_event_checkbox_shows_its_example_payload(portal):
    from django_webhooks import catalog

    page = html.unescape(portal.get(url("add")).content.decode())

    for entry in catalog.entries():
        example = __import__("json").dumps(entry.example, indent=2, ensure_ascii=False)
        assert example in page, entry.type


# --- custom headers: write-only -------------------------------------------------------------


def test_headers_are_set_stored_sealed_and_never_shown_again(portal, accounting):
    secret = "Bearer s3cr3t-value-of-the-receiver"
    portal.post(
        url("add"),
        {
            "url": "https://erp.example/in",
            "events": ["order.created"],
            "headers": f"Authorization: {secret}\nX-Tenant: 42\n",
        },
    )

    webhook = Webhook.objects.get()
    assert webhook.custom_headers() == {"Authorization": secret, "X-Tenant": "42"}
    assert secret not in webhook.headers_sealed
    for page in (url("home"), url("webhook", webhook.pk), url("change", webhook.pk)):
        content = portal.get(page).content.decode()
        assert secret not in content, page
    change = portal.get(url("change", webhook.pk)).content.decode()
    assert 'name="remove_headers" value="Authorization"' in change
    assert "<code>Authorization</code>" in portal.get(url("webhook", webhook.pk)).content.decode()


def test_a_header_change_merges_like_the_api(portal, accounting):
    webhook = Webhook.objects.create(
        api_key=accounting[0], url="https://erp.example/in", events=["order.created"]
    )
    webhook.set_custom_headers({"Authorization": "Bearer old", "X-Tenant": "42"})
    webhook.save()

    portal.post(
        url("change", webhook.pk),
        {
            "url": webhook.url,
            "events": ["order.created"],
            "headers": "Authorization: Bearer new",
            "remove_headers": ["X-Tenant"],
        },
    )
    webhook.refresh_from_db()
    assert webhook.custom_headers() == {"Authorization": "Bearer new"}

    portal.post(url("change", webhook.pk), {"url": webhook.url, "events": ["order.created"]})
    webhook.refresh_from_db()
    assert webhook.custom_headers() == {"Authorization": "Bearer new"}  # left out: kept


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Host": "evil.example"}, id="reserved"),
        pytest.param({"X-Webhook-Event": "forged"}, id="our own"),
        pytest.param({"Bad Name": "x"}, id="not a token"),
    ],
)
def test_headers_the_api_refuses_are_refused_in_its_words(portal, accounting, headers):
    body = {"url": "https://erp.example/in", "events": ["order.created"]}
    api = accounting[1].post(api_url("webhook-list"), {**body, "headers": headers}, format="json")
    assert api.status_code == 400
    expected = [
        f"{name}: {message}"
        for name, messages in api.json()["headers"].items()
        for message in messages
    ]
    lines = "\n".join(f"{name}: {value}" for name, value in headers.items())

    response = portal.post(url("add"), {**body, "headers": lines})

    assert field_errors(response) == {"headers": expected}
    assert not Webhook.objects.exists()


def test_a_header_line_without_a_colon_is_refused_without_echoing_it(portal):
    response = portal.post(
        url("add"),
        {"url": "https://erp.example/in", "events": ["order.created"], "headers": "s3cr3t"},
    )

    assert field_errors(response) == {"headers": ["Line 1: write “Name: value”."]}
    assert b"s3cr3t" not in response.content


def test_an_empty_post_is_refused_not_taken_for_a_fresh_form(portal):
    response = portal.post(url("add"))

    assert field_errors(response) == {
        "url": ["This field is required."],
        "events": ["Choose at least one event type."],
    }
