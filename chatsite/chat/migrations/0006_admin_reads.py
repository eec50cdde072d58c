from django.db import migrations, models


class Migration(migrations.Migration):
    """Admin searches and media fetches are logged reads too: what was searched, which item."""

    dependencies = [("chat", "0005_builtin_tools_on")]
    operations = [
        migrations.AddField(
            model_name="transcriptread",
            name="detail",
            field=models.CharField(blank=True, max_length=200),
        ),
    ]
