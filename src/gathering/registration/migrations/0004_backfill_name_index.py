"""Fill ``Registration.name_index`` for the rows written before it existed.

Idempotent and in batches: only rows with a name and no index yet are read, a batch at a time
by primary key. The blind index needs the installation's key, so this uses ``core.crypto``
(not app code: the same function every other index was made with); the historical model's
``name`` field decrypts as the real one does.
"""

from django.db import migrations

BATCH = 500
PURPOSE = "registration-name"  # registration.models.NAME_PURPOSE


def backfill(apps, schema_editor):
    from gathering.core.crypto import blind_index

    Registration = apps.get_model("registration", "Registration")
    last = 0
    while True:
        rows = list(
            Registration.objects.filter(pk__gt=last, name__isnull=False, name_index__isnull=True)
            .order_by("pk")
            .only("pk", "name")[:BATCH]
        )
        if not rows:
            return
        last = rows[-1].pk
        for row in rows:
            if row.name:
                Registration.objects.filter(pk=row.pk).update(
                    name_index=blind_index(row.name, purpose=PURPOSE)
                )


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0003_add_name_index_and_staff_permissions"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
