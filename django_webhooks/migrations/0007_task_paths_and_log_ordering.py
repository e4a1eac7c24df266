from django.db import migrations

OLD_SWEEP = "django_webhooks.queue.sweep"
NEW_SWEEP = "django_webhooks.worker.tasks.sweep"


def point_schedule_at(func_from, func_to):
    def migrate(apps, schema_editor):
        Schedule = apps.get_model("django_q", "Schedule")
        Schedule.objects.using(schema_editor.connection.alias).filter(func=func_from).update(
            func=func_to
        )

    return migrate


class Migration(migrations.Migration):
    dependencies = [
        ("django_webhooks", "0006_event_object_state"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        # The admin orders the log itself; the engine's queries need no sort undone.
        migrations.AlterModelOptions(
            name="deliveryattempt",
            options={"verbose_name": "delivery attempt", "verbose_name_plural": "delivery log"},
        ),
        migrations.RunPython(
            point_schedule_at(OLD_SWEEP, NEW_SWEEP), point_schedule_at(NEW_SWEEP, OLD_SWEEP)
        ),
    ]
