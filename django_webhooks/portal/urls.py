"""Mount with ``path("portal/", include("django_webhooks.portal.urls"))``."""

from django.urls import path

from . import actions, editing, entry, pages, secret

app_name = "webhooks_portal"

urlpatterns = [
    path("", pages.home, name="home"),
    path("open/<str:token>/", entry.open_link, name="open"),
    path("end/", entry.end_session, name="end"),
    path("webhooks/add/", editing.add_webhook, name="add"),
    path("webhooks/<int:pk>/", pages.webhook_page, name="webhook"),
    path("webhooks/<int:pk>/change/", editing.change_webhook, name="change"),
    path("webhooks/<int:pk>/delete/", editing.delete_webhook, name="delete"),
    path("webhooks/<int:pk>/test/", actions.send_test, name="test"),
    path("webhooks/<int:pk>/recover/", actions.recover, name="recover"),
    path("webhooks/<int:pk>/reactivate/", actions.reactivate, name="reactivate"),
    path("webhooks/<int:pk>/deactivate/", actions.deactivate, name="deactivate"),
    path("deliveries/<int:pk>/redeliver/", actions.redeliver, name="redeliver"),
    path("signing-secret/", secret.signing_secret, name="signing-secret"),
    path("signing-secret/reveal/", secret.reveal, name="reveal"),
    path("signing-secret/rotate/", secret.rotate, name="rotate"),
]
