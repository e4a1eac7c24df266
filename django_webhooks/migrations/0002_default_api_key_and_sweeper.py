from django.db import migrations

from django_webhooks import signing, tokens

DEFAULT_NAME = "Default"
SWEEP_SCHEDULE = "django_webhooks sweeper"


def create_default_api_key(apps, schema_editor):
    ApiKey = apps.get_model("django_webhooks", "ApiKey")
    db = schema_editor.connection.alias
    if ApiKey.objects.using(db).filter(name=DEFAULT_NAME).exists():
        return
    # Nobody sees this token: the Default key signs the admin's webhooks. A third party
    # gets a key of its own (admin, or `manage.py webhooks_create_key`).
    _token, prefix, hashed = tokens.generate()
    ApiKey.objects.using(db).create(
        name=DEFAULT_NAME, prefix=prefix, hashed_key=hashed, signing_secret=signing.generate_secret()
    )


def create_sweep_schedule(apps, schema_editor):
    # A safety net beside the tickers in the qcluster workers: every minute, recover leases
    # of dead workers, lost dispatches and lost wake-ups.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).get_or_create(
        name=SWEEP_SCHEDULE,
        defaults={"func": "django_webhooks.queue.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_sweep_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).filter(name=SWEEP_SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("django_webhooks", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.RunPython(create_default_api_key, migrations.RunPython.noop),
        migrations.RunPython(create_sweep_schedule, remove_sweep_schedule),
    ]
