"""Who may call the API: API keys only, revoked and expired ones refused, usage recorded."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from django_webhooks.api.authentication import ApiKeyAuthentication
from django_webhooks.api.throttling import FAILED_AUTHENTICATION_RATE
from django_webhooks.models import ApiKey
from tests.api_support import client_for, url
from tests.factories import Status, make_attempt, make_key, make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_counts")]

ENDPOINTS = [
    ("get", "webhook-list", False),
    ("post", "webhook-list", False),
    ("get", "webhook-detail", True),
    ("put", "webhook-detail", True),
    ("patch", "webhook-detail", True),
    ("delete", "webhook-detail", True),
    ("post", "webhook-test", True),
    ("get", "webhook-attempts", True),
    ("post", "attempt-redeliver", True),
    ("get", "event-types", False),
    ("post", "signing-secret-rotate", False),
    ("get", "schema", False),
]


@pytest.fixture
def existing():
    """A webhook with a logged attempt, so detail URLs would exist for the right key."""
    api_key, _client = make_key("Owner")
    webhook = make_webhook(api_key)
    attempt = make_attempt(webhook, Status.FAILED)
    return {"webhook": webhook.pk, "attempt": attempt.pk}


def endpoint_url(name: str, detail: bool, existing: dict) -> str:
    if not detail:
        return url(name)
    return url(name, existing["attempt"] if name.startswith("attempt") else existing["webhook"])


def call(client: APIClient, method: str, path: str):
    if method in ("post", "put", "patch"):
        return getattr(client, method)(path, {}, format="json")
    return getattr(client, method)(path)


@pytest.mark.parametrize(("method", "name", "detail"), ENDPOINTS)
def test_every_endpoint_answers_401_without_a_key(method, name, detail, existing):
    response = call(APIClient(), method, endpoint_url(name, detail, existing))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(("method", "name", "detail"), ENDPOINTS)
def test_every_endpoint_answers_401_to_a_revoked_key(method, name, detail, existing):
    api_key, client = make_key()
    api_key.revoked = True
    api_key.save()

    response = call(client, method, endpoint_url(name, detail, existing))

    assert response.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Token abc",
        "Api-Key",
        "Api-Key abc def",
        "Api-Key unknown.token",
        "Api-Key " + "x" * 5000,
        "Api-Key caf\u00e9.token",
        "",
    ],
)
def test_malformed_or_unknown_credentials_answer_401(header):
    response = APIClient().get(url("webhook-list"), HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_known_prefix_with_the_wrong_secret_is_refused():
    api_key, _client = make_key()

    response = client_for(f"{api_key.prefix}.not-the-secret").get(url("webhook-list"))

    assert response.status_code == 401


def test_a_revoked_key_is_refused():
    api_key, client = make_key()
    assert client.get(url("webhook-list")).status_code == 200
    ApiKey.objects.filter(pk=api_key.pk).update(revoked=True)

    response = client.get(url("webhook-list"))

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid, revoked or expired API key."}


def test_an_expired_key_is_refused_and_an_unexpired_one_accepted():
    _expired, expired_client = make_key(expiry_date=timezone.now() - timedelta(seconds=1))
    _valid, valid_client = make_key("CRM", expiry_date=timezone.now() + timedelta(days=1))

    assert expired_client.get(url("webhook-list")).status_code == 401
    assert valid_client.get(url("webhook-list")).status_code == 200


def test_the_keyword_is_case_insensitive():
    _api_key, token = ApiKey.objects.create_key(name="Accounting")

    response = APIClient().get(url("webhook-list"), HTTP_AUTHORIZATION=f"api-key {token}")

    assert response.status_code == 200


def test_request_auth_is_the_api_key_and_the_user_anonymous():
    api_key, token = ApiKey.objects.create_key(name="Accounting")
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Api-Key {token}")

    user, auth = ApiKeyAuthentication().authenticate(request)

    assert auth == api_key
    assert isinstance(user, AnonymousUser)


def test_session_and_basic_credentials_are_not_accepted():
    admin = User.objects.create_superuser("admin", "admin@example.com", "secret")
    session_client = APIClient()
    session_client.force_login(admin)

    assert session_client.get(url("webhook-list")).status_code == 401
    basic = APIClient().get(url("webhook-list"), HTTP_AUTHORIZATION="Basic YWRtaW46c2VjcmV0")
    assert basic.status_code == 401


def _key_updates(queries) -> list[str]:
    table = ApiKey._meta.db_table
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and table in q["sql"]]


def test_last_use_is_recorded():
    api_key, client = make_key()
    assert api_key.last_used_at is None
    before = timezone.now()

    client.get(url("event-types"))

    api_key.refresh_from_db()
    assert api_key.last_used_at >= before


def test_last_use_is_written_at_most_once_a_minute():
    api_key, client = make_key()
    recently = timezone.now() - timedelta(seconds=30)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=recently)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url("webhook-list")).status_code == 200

    assert _key_updates(queries.captured_queries) == []
    api_key.refresh_from_db()
    assert api_key.last_used_at == recently


def test_last_use_older_than_a_minute_is_refreshed():
    api_key, client = make_key()
    long_ago = timezone.now() - timedelta(minutes=2)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=long_ago)

    with CaptureQueriesContext(connection) as queries:
        client.get(url("webhook-list"))

    assert len(_key_updates(queries.captured_queries)) == 1
    api_key.refresh_from_db()
    assert api_key.last_used_at > long_ago + timedelta(minutes=1)


# --- throttling -----------------------------------------------------------------------------


def test_a_key_over_its_rate_gets_429(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": "3/min"}
    _api_key, client = make_key()

    statuses = [client.get(url("webhook-list")).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    refused = client.get(url("event-types"))
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


def test_each_key_has_a_budget_of_its_own(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": "2/min"}
    _accounting, accounting = make_key("Accounting")
    _warehouse, warehouse = make_key("Warehouse")

    assert [accounting.get(url("webhook-list")).status_code for _ in range(3)] == [200, 200, 429]
    assert [warehouse.get(url("webhook-list")).status_code for _ in range(3)] == [200, 200, 429]


def test_the_rate_is_read_at_each_request_and_none_switches_throttling_off(settings):
    _api_key, client = make_key()
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": "1/min"}
    assert [client.get(url("webhook-list")).status_code for _ in range(2)] == [200, 429]

    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": None}

    assert {client.get(url("webhook-list")).status_code for _ in range(5)} == {200}


def test_wrong_keys_from_one_address_are_refused_before_any_lookup(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": "1000/min"}
    _api_key, good = make_key()
    guesser = APIClient(REMOTE_ADDR="203.0.113.9")
    guesser.credentials(HTTP_AUTHORIZATION="Api-Key wh_guess.attempt")
    budget = int(FAILED_AUTHENTICATION_RATE.split("/")[0])

    statuses = [guesser.get(url("webhook-list")).status_code for _ in range(budget)]
    with CaptureQueriesContext(connection) as captured:
        refused = guesser.get(url("webhook-list"))

    assert set(statuses) == {401}
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    # No key was looked up: at most the once-a-second read of the usable keys' prefixes.
    assert len(captured.captured_queries) <= 1
    assert all("wh_guess" not in str(q["sql"]) for q in captured.captured_queries)
    # Another address, with a good key, is not held back by the guesser.
    assert good.get(url("webhook-list")).status_code == 200


def test_requests_with_good_keys_do_not_spend_the_failure_budget(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": "1000/min"}
    _api_key, client = make_key()
    budget = int(FAILED_AUTHENTICATION_RATE.split("/")[0])
    assert {client.get(url("event-types")).status_code for _ in range(budget + 5)} == {200}


def test_no_failure_budget_when_throttling_is_off(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": None}
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Api-Key wh_guess.attempt")
    budget = int(FAILED_AUTHENTICATION_RATE.split("/")[0])
    assert {guesser.get(url("webhook-list")).status_code for _ in range(budget + 5)} == {401}


def test_forged_forwarded_for_addresses_do_not_escape_the_budget(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": "1000/min"}
    budget = int(FAILED_AUTHENTICATION_RATE.split("/")[0])
    guesser = APIClient(REMOTE_ADDR="203.0.113.9")
    guesser.credentials(HTTP_AUTHORIZATION="Api-Key wh_guess.attempt")
    statuses = [
        guesser.get(url("webhook-list"), HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(budget + 10)
    ]
    assert statuses.count(401) == budget
    assert statuses[budget:] == [429] * 10


def test_wrong_keys_never_lock_a_valid_key_out_of_its_own_address(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": "1000/min"}
    budget = int(FAILED_AUTHENTICATION_RATE.split("/")[0])
    _api_key, good = make_key()
    good.defaults["REMOTE_ADDR"] = "127.0.0.1"
    attacker = APIClient(REMOTE_ADDR="203.0.113.9")
    attacker.credentials(HTTP_AUTHORIZATION="Api-Key wh_guess.attempt")
    for _ in range(budget + 5):  # pretending to be 127.0.0.1, then really sharing it
        attacker.get(url("webhook-list"), HTTP_X_FORWARDED_FOR="127.0.0.1")
    shared = APIClient(REMOTE_ADDR="127.0.0.1")
    shared.credentials(HTTP_AUTHORIZATION="Api-Key wh_guess.attempt")
    assert {shared.get(url("webhook-list")).status_code for _ in range(budget + 1)} == {401, 429}
    assert good.get(url("webhook-list")).status_code == 200  # the address is spent; the key is good


def test_trusted_proxies_name_the_client_address(settings, rf):
    from django_webhooks.api.throttling import client_address

    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert client_address(request) == "10.0.0.2"
    settings.WEBHOOKS = {**settings.WEBHOOKS, "TRUSTED_PROXIES": 1}
    assert client_address(request) == "198.51.100.7"  # what our one proxy saw
    settings.WEBHOOKS = {**settings.WEBHOOKS, "TRUSTED_PROXIES": 3}
    assert client_address(request) == "10.0.0.2"  # fewer entries than proxies: not trusted
