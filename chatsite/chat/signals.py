"""Sockets follow the account: signing out or being disabled closes every open socket at once."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from .consumers import user_group


def revoke_sockets(user_id) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "session.revoked"})


@receiver(user_logged_out)
def _on_logout(sender, request, user, **kwargs):
    if user is not None:
        revoke_sockets(user.pk)


@receiver(post_save, sender=get_user_model())
def _on_user_saved(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        revoke_sockets(instance.pk)
