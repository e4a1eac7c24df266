"""Who sees what of the Settings section, and that no page shows a signing secret."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_webhooks.models import ApiKey, DeliveryAttempt, Webhook
from tests.factories import staff_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("woken")]

Status = DeliveryAttempt.Status


def secrets() -> list[str]:
    found = []
    for api_key in ApiKey.objects.all():
        found += [api_key.signing_secret, api_key.previous_signing_secret]
    return [secret for secret in found if secret]


def pages(api_key: ApiKey, webhook: Webhook, attempt: DeliveryAttempt) -> list[str]:
    urls = ["/admin/", "/admin/django_webhooks/"]
    for model, obj in (("apikey", api_key), ("webhook", webhook), ("deliveryattempt", attempt)):
        urls += [
            reverse(f"admin:django_webhooks_{model}_changelist"),
            reverse(f"admin:django_webhooks_{model}_change", args=[obj.pk]),
            reverse(f"admin:django_webhooks_{model}_history", args=[obj.pk]),
            reverse(f"admin:django_webhooks_{model}_delete", args=[obj.pk]),
        ]
    urls += [
        reverse("admin:django_webhooks_apikey_change", args=[ApiKey.objects.default().pk]),
        reverse("admin:django_webhooks_apikey_rotate", args=[api_key.pk]),
        reverse("admin:django_webhooks_apikey_revoke", args=[api_key.pk]),
        reverse("admin:django_webhooks_webhook_add"),
        reverse("admin:django_webhooks_apikey_add"),
    ]
    return urls


VIEW_ONLY = ("view_apikey", "view_webhook", "view_deliveryattempt")


def post_actions(client, api_key, webhook, attempt) -> list[int]:
    return [
        client.post(
            reverse("admin:django_webhooks_webhook_send_test", args=[webhook.pk])
        ).status_code,
        client.post(
            reverse("admin:django_webhooks_webhook_reactivate", args=[webhook.pk])
        ).status_code,
        client.post(
            reverse("admin:django_webhooks_deliveryattempt_redeliver", args=[attempt.pk])
        ).status_code,
        client.post(reverse("admin:django_webhooks_apikey_rotate", args=[api_key.pk])).status_code,
        client.post(reverse("admin:django_webhooks_apikey_revoke", args=[api_key.pk])).status_code,
    ]


def test_no_page_of_the_section_shows_a_signing_secret(admin_client, rotated_key_rows):
    for url in pages(*rotated_key_rows):
        response = admin_client.get(url)
        assert response.status_code in (200, 403), url  # 403: the log cannot be deleted
        body = response.content.decode()
        for secret in secrets():
            assert secret not in body, url


def test_staff_without_the_apps_permissions_see_nothing_of_it(client, rotated_key_rows):
    client = staff_client(client)

    index = client.get("/admin/")
    assert index.status_code == 200
    assert "/admin/django_webhooks/" not in index.content.decode()
    assert client.get("/admin/django_webhooks/").status_code == 404
    for url in pages(*rotated_key_rows)[2:]:
        assert client.get(url).status_code == 403, url
    assert set(post_actions(client, *rotated_key_rows)) == {403}
    assert DeliveryAttempt.objects.count() == 1


def test_view_only_staff_read_everything_but_no_secret(client, rotated_key_rows):
    client = staff_client(client, *VIEW_ONLY)
    api_key, webhook, attempt = rotated_key_rows

    for url in pages(*rotated_key_rows):
        response = client.get(url)
        body = response.content.decode()
        for secret in secrets():
            assert secret not in body, url
    for model, obj in (("apikey", api_key), ("webhook", webhook), ("deliveryattempt", attempt)):
        assert (
            client.get(reverse(f"admin:django_webhooks_{model}_change", args=[obj.pk])).status_code
            == 200
        )


def test_view_only_staff_can_act_on_nothing(client, rotated_key_rows):
    client = staff_client(client, *VIEW_ONLY)
    api_key, webhook, _attempt = rotated_key_rows
    old_secret = api_key.signing_secret

    assert set(post_actions(client, *rotated_key_rows)) == {403}
    assert (
        client.get(reverse("admin:django_webhooks_apikey_rotate", args=[api_key.pk])).status_code
        == 403
    )

    api_key.refresh_from_db()
    assert api_key.signing_secret == old_secret
    assert not api_key.revoked
    assert DeliveryAttempt.objects.count() == 1
    page = client.get(
        reverse("admin:django_webhooks_webhook_change", args=[webhook.pk])
    ).content.decode()
    for button in ("Send test event", ">Redeliver<", "Reactivate"):
        assert button not in page
    listing = client.get(reverse("admin:django_webhooks_webhook_changelist"))
    assert listing.context["action_form"] is None  # no action is offered
    log = client.get(reverse("admin:django_webhooks_deliveryattempt_changelist"))
    assert log.context["action_form"] is None
    key_page = client.get(
        reverse("admin:django_webhooks_apikey_change", args=[api_key.pk])
    ).content.decode()
    assert "Rotate signing secret" not in key_page
    assert ">Revoke<" not in key_page


def test_webhook_editors_may_test_and_redeliver_but_not_touch_keys(client, rotated_key_rows):
    client = staff_client(
        client, "view_webhook", "change_webhook", "view_deliveryattempt", "view_apikey"
    )
    _api_key, _webhook, _attempt = rotated_key_rows

    statuses = post_actions(client, *rotated_key_rows)

    assert statuses[:3] == [302, 302, 302]
    assert statuses[3:] == [403, 403]
    assert set(DeliveryAttempt.objects.values_list("trigger", flat=True)) == {
        "event",
        "test",
        "manual",
    }
