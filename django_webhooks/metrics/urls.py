"""``path("metrics", include("django_webhooks.metrics.urls"))``."""

from django.urls import path

from .views import metrics

urlpatterns = [path("", metrics, name="webhooks-metrics")]
