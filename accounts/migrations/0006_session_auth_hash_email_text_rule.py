# Written by hand (issue #22 review, defects 3 and 9): the field, then a fingerprint for the sessions in force.

from typing import Any

from django.contrib.auth import get_user_model
from django.db import migrations, models

import tacro_topical.text


def fingerprint_sessions_not_ended(apps: Any, schema_editor: Any) -> None:
    """Sessions started before the field keep working with the password they have now.

    Left empty they would all be refused, signing everyone out once. The fingerprint is Django's
    get_session_auth_hash(), which the historical model lacks: an unsaved user of today's model computes
    it from the stored password alone.
    """
    AuthSession = apps.get_model("accounts", "AuthSession")
    fingerprinting_user = get_user_model()
    sessions = AuthSession.objects.using(schema_editor.connection.alias).filter(ended_at__isnull=True)
    for session in sessions.select_related("user").iterator():
        session.auth_hash = fingerprinting_user(password=session.user.password).get_session_auth_hash()
        session.save(update_fields=["auth_hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_person_text_rule"),
    ]

    operations = [
        migrations.AddField(
            model_name="authsession",
            name="auth_hash",
            field=models.CharField(
                default="",
                editable=False,
                help_text="The user's get_session_auth_hash() for the password this session signed in with (an "
                "HMAC of the password's hash, which it never holds).",
                max_length=128,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fingerprint_sessions_not_ended, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="user",
            name="email",
            field=models.EmailField(
                max_length=254,
                unique=True,
                validators=[tacro_topical.text.PersonTextValidator()],
                verbose_name="e-mail address",
            ),
        ),
    ]
