from django.urls import path
from django.views.generic import RedirectView

from .receiver import demo_receiver

urlpatterns = [
    path("demo-receiver/", demo_receiver, name="demo-receiver"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
