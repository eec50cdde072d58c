from django.db import migrations

BUILTIN = ["calculator", "convert_units", "current_time"]


def switch_on(apps, schema_editor):
    FunctionTool = apps.get_model("chat", "FunctionTool")
    for name in BUILTIN:
        FunctionTool.objects.get_or_create(name=name, defaults={"enabled": True})


class Migration(migrations.Migration):
    """The built-in tools are safe (no eval, no network), so a new site starts with them on;
    admins switch any of them off in the admin."""

    dependencies = [("chat", "0004_composer")]
    operations = [migrations.RunPython(switch_on, migrations.RunPython.noop)]
