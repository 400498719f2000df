import django.db.models.deletion
from django.db import migrations, models

# The passage log loses its index by credential; the processor keeps the passages it has
# processed in ``PassageCredential`` instead (``anyuan.events.credentials``). The passages
# up to the default processor's checkpoint are copied here; it adds the later ones.


def copy_processed(apps, schema_editor):
    passage = apps.get_model("events", "Passage")._meta.db_table
    entry = apps.get_model("events", "PassageCredential")._meta.db_table
    checkpoint = apps.get_model("events", "ProcessorCheckpoint")._meta.db_table
    qn = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(entry)} (passage_id, credential, event_time) "  # noqa: S608 - quoted names
            f"SELECT id, credential, event_time FROM {qn(passage)} "
            f"WHERE credential <> '' AND id <= COALESCE("
            f"(SELECT last_passage_id FROM {qn(checkpoint)} WHERE name = %s), 0)",
            ["presence"],
        )


class Migration(migrations.Migration):
    dependencies = [("events", "0004_without_redundant_indexes")]

    operations = [
        migrations.CreateModel(
            name="PassageCredential",
            fields=[
                (
                    "passage",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="events.passage",
                        verbose_name="passage",
                    ),
                ),
                ("credential", models.CharField(max_length=64, verbose_name="credential")),
                ("event_time", models.DateTimeField(verbose_name="event time")),
            ],
            options={
                "verbose_name": "passage by credential",
                "verbose_name_plural": "passages by credential",
            },
        ),
        migrations.RunPython(copy_processed, migrations.RunPython.noop),
        migrations.AddIndex(  # after the copy: one index build instead of an insert a row
            model_name="passagecredential",
            index=models.Index(fields=["credential", "event_time"], name="passagecredential_time"),
        ),
        migrations.RemoveIndex(model_name="passage", name="passage_credential_time"),
    ]
