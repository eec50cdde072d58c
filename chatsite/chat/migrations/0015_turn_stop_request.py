from django.db import migrations, models


class Migration(migrations.Migration):
    """Stop pressed on a reply whose process died is kept with the turn, so the process that
    takes it over cancels it instead of running it to the end (chat/leases.py)."""

    dependencies = [("chat", "0014_shared_conversation")]
    operations = [
        migrations.AddField(
            model_name="turn",
            name="stop_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
