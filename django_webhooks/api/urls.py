"""Mount with ``path("api/", include("django_webhooks.api.urls"))``."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "webhooks_api"

router = SimpleRouter()
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register("attempts", views.DeliveryAttemptViewSet, basename="attempt")

urlpatterns = [
    *router.urls,
    path("event-types/", views.EventTypeListView.as_view(), name="event-types"),
    path(
        "signing-secret/rotate/",
        views.SigningSecretRotateView.as_view(),
        name="signing-secret-rotate",
    ),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    # Last: any other path under the API answers this API's JSON 404, not the store's page.
    re_path(r"^", views.NotFoundView.as_view(), name="not-found"),
]
