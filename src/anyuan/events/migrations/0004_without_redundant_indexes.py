import django.db.models.deletion
from django.db import migrations, models

# Single-column indexes that duplicate the first column of another index: on passages,
# of the unique (device, device_event_id) and of (zone, event_time); on presences, of
# (person, entered_at), (vehicle, entered_at) and (zone, left_at). Every index is written
# for every passage and stay. Dropped in place: an AlterField would make SQLite copy the
# whole table into a new one.
INDEXES = {
    "events_passage_device_id_4f76cecc": ("events_passage", "device_id"),
    "events_passage_zone_id_ca273fe3": ("events_passage", "zone_id"),
    "events_presence_person_id_41953e0a": ("events_presence", "person_id"),
    "events_presence_vehicle_id_576822c1": ("events_presence", "vehicle_id"),
    "events_presence_zone_id_1b9a1dc4": ("events_presence", "zone_id"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_checkpoint_alarms_and_checks"),
        ("registry", "0002_person_officer_full_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, (table, column) in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="passage",
                    name="device",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="passages",
                        to="registry.device",
                        verbose_name="device",
                    ),
                ),
                migrations.AlterField(
                    model_name="passage",
                    name="zone",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="passages",
                        to="registry.zone",
                        verbose_name="zone",
                    ),
                ),
                migrations.AlterField(
                    model_name="presence",
                    name="person",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="presences",
                        to="registry.person",
                        verbose_name="person",
                    ),
                ),
                migrations.AlterField(
                    model_name="presence",
                    name="vehicle",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="presences",
                        to="registry.vehicle",
                        verbose_name="vehicle",
                    ),
                ),
                migrations.AlterField(
                    model_name="presence",
                    name="zone",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="presences",
                        to="registry.zone",
                        verbose_name="zone",
                    ),
                ),
            ],
        )
    ]
