from django.apps import AppConfig


class TestStoreConfig(AppConfig):
    name = "tests.teststore"
    label = "teststore"
    default_auto_field = "django.db.models.BigAutoField"
