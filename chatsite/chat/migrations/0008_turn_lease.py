from django.db import migrations, models


class Migration(migrations.Migration):
    """Which process runs a reply, until when: one process per running turn, and a takeover
    by exactly one other when it dies (chat/leases.py)."""

    dependencies = [("chat", "0007_schema_verdict")]
    operations = [
        migrations.AddField(
            model_name="turn",
            name="lease_owner",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="turn",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
