"""API tokens expire: the ones issued without an expiry get the default life from their
creation (``ANYUAN_TOKEN_TTL_DAYS``), and every token has one from now on."""

import datetime as dt

from django.conf import settings
from django.db import migrations, models


def give_expiry(apps, schema_editor):
    ApiToken = apps.get_model("accounts", "ApiToken")
    life = dt.timedelta(days=settings.ANYUAN_TOKEN_TTL_DAYS)
    ApiToken.objects.filter(expires__isnull=True).update(
        expires=models.ExpressionWrapper(
            models.F("created") + life, output_field=models.DateTimeField()
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_partner_role"),
    ]

    operations = [
        migrations.RunPython(give_expiry, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires",
            field=models.DateTimeField(verbose_name="expires"),
        ),
    ]
