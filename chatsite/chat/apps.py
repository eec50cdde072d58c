from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chatsite.chat"
    label = "chat"
    verbose_name = "Conversations"

    def ready(self):
        from . import signals  # noqa: F401 - connects the receivers
