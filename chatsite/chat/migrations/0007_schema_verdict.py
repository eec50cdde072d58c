from django.db import migrations, models


class Migration(migrations.Migration):
    """Structured-output verdicts are stored when an answer stops, never computed by a page."""

    dependencies = [("chat", "0006_admin_reads")]

    operations = [
        migrations.AddField(
            model_name="turn",
            name="schema_verdicts",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
