from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("django_webhooks.api.urls")),
    path("portal/", include("django_webhooks.portal.urls")),
    path("metrics", include("django_webhooks.metrics.urls")),
    path("", include("example_project.shop.urls")),
]
