"""Sockets follow the account: signing out, being disabled, a new password, a deleted or expired
session close that person's open sockets at once, in every process (the `user.<id>` group)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from . import sessions

User = get_user_model()


def revoke_sockets(user_id) -> None:
    sessions.notify(user_id)


@receiver(user_logged_out)
def _on_logout(sender, request, user, **kwargs):
    if user is not None:
        session = getattr(request, "session", None)
        sessions.notify(user.pk, ended=getattr(session, "session_key", None))


@receiver(pre_save, sender=User)
def _remember_password(sender, instance, update_fields=None, **kwargs):
    if instance.pk and (update_fields is None or "password" in update_fields):
        old = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
        instance._password_before_save = old


@receiver(post_save, sender=User)
def _on_user_saved(sender, instance, created, **kwargs):
    before = instance.__dict__.pop("_password_before_save", None)
    if created:
        return
    if not instance.is_active or (before is not None and before != instance.password):
        sessions.notify(instance.pk)


@receiver(post_delete, sender=Session)
def _on_session_deleted(sender, instance, **kwargs):
    user_id = sessions.user_of(instance)
    if user_id is not None:
        sessions.notify(user_id, ended=instance.session_key)
