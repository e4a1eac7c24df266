"""The test project's URLs: the admin, the app's API, portal and metrics, the demo receiver."""

from django.contrib import admin
from django.urls import include, path

from example_project.shop.receiver import demo_receiver

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("django_webhooks.api.urls")),
    path("portal/", include("django_webhooks.portal.urls")),
    path("metrics", include("django_webhooks.metrics.urls")),
    path("demo-receiver/", demo_receiver, name="demo-receiver"),
]
