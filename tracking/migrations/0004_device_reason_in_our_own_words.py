"""Device.deactivated_reason in our own words (issue #22).

Before, a Web Push 404/410 stored the first 160 characters of whatever the endpoint answered, and the
patient read it back from GET /api/v1/devices/ (an internal service's answer was read this way).
Reasons are now fixed sentences (tracking.channels.DeactivationReason); rows written before are
given one, frozen here as migrations must be.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

FORMER_REASON = "A push service refused this device before. Register it again to receive push."


def reasons_in_our_own_words(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Device = apps.get_model("tracking", "Device")
    Device.objects.exclude(deactivated_reason="").update(deactivated_reason=FORMER_REASON)


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0003_review_summary"),
    ]

    operations = [
        migrations.RunPython(reasons_in_our_own_words, migrations.RunPython.noop, elidable=True),
    ]
