from django.apps import AppConfig


class EmulatorConfig(AppConfig):
    """Only here so `manage.py emulator` exists; the emulator itself knows nothing of Django."""

    name = "chatsite.emulator"
    label = "emulator"
    verbose_name = "Interactions API emulator"
