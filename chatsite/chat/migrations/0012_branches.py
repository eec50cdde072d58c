from django.db import migrations, models


class Migration(migrations.Migration):
    """Which version is on screen at each fork of a conversation (chat/branches.py)."""

    dependencies = [("chat", "0011_admin_review")]
    operations = [
        migrations.AddField(
            model_name="conversation",
            name="branch",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
