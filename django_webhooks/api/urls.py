"""Mount with ``path("api/", include("django_webhooks.api.urls"))``."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from . import catalog_views, portal_link, views

app_name = "webhooks_api"

router = SimpleRouter()
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register("attempts", views.DeliveryAttemptViewSet, basename="attempt")

urlpatterns = [
    *router.urls,
    path("event-types/", catalog_views.EventTypeListView.as_view(), name="event-types"),
    path(
        "event-types/<str:event_type>/schema.xsd",
        catalog_views.EventTypeXsdView.as_view(),
        name="event-type-xsd",
    ),
    path(
        "signing-secret/rotate/",
        views.SigningSecretRotateView.as_view(),
        name="signing-secret-rotate",
    ),
    path("portal-link/", portal_link.PortalLinkView.as_view(), name="portal-link"),
    path("schema/", catalog_views.SchemaView.as_view(), name="schema"),
    # Last: any other path under the API answers this API's JSON 404, not the store's page.
    re_path(r"^", views.NotFoundView.as_view(), name="not-found"),
]
