from django.db import migrations, models
from django.db.models import F


def mark_low_quality(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Viewers that a study's quality check already labelled `capture_quality=low` (the
    attribute studies/ wrote before this mark existed) are marked; their ads' rollups are out
    of date (the dashboard reads the tallies until they are rebuilt)."""
    viewer = apps.get_model("campaigns", "Viewer")
    ad = apps.get_model("campaigns", "Ad")
    marked = viewer.objects.filter(attributes__name="capture_quality", attributes__value="low")
    viewer.objects.filter(pk__in=marked.values("pk")).update(low_quality=True)
    ad.objects.filter(
        pk__in=ad.objects.filter(batches__images__viewer__low_quality=True).values("pk")
    ).update(tally_generation=F("tally_generation") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0010_face_attention"),
    ]

    operations = [
        migrations.AddField(
            model_name="viewer",
            name="low_quality",
            field=models.BooleanField(db_index=True, default=False),
        ),
        migrations.RunPython(mark_low_quality, migrations.RunPython.noop),
    ]
