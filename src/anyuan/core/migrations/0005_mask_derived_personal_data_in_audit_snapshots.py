"""Audit snapshots written before values derived from personal data were declared (the
date of birth beside the masked ID number gives the whole number back) hold them in
clear: mask them as the snapshots written from now on do (core/personal.py, Disclosure)."""

from django.db import migrations

MASKED_DATE = "****-**-**"
# model label → fields its ``disclosure`` declares derived, as they were at this migration
DERIVED = {"registry.person": ("birth_date",)}


def mask(apps, schema_editor):
    AuditEntry = apps.get_model("core", "AuditEntry")
    for label, names in DERIVED.items():
        rows = AuditEntry.objects.filter(object_type=label).only("pk", "before", "after")
        for entry in rows.iterator(chunk_size=2000):
            changed = False
            for attr in ("before", "after"):
                data = getattr(entry, attr)
                if not isinstance(data, dict):
                    continue
                for name in names:
                    if data.get(name) not in (None, "", MASKED_DATE):
                        data[name] = MASKED_DATE
                        changed = True
            if changed:
                entry.save(update_fields=["before", "after"])


class Migration(migrations.Migration):
    dependencies = [("core", "0004_audit_search_and_key_rotation")]

    operations = [migrations.RunPython(mask, migrations.RunPython.noop)]
