from django import template
from django.urls import reverse
from django.utils.html import format_html

from chatsite.chat import attachments
from chatsite.chat.rendering import render_steps
from chatsite.chat.rendering.user import render_user_input

register = template.Library()


@register.simple_tag
def turn_steps(turn):
    """A turn's assistant steps; a streaming turn passes its steps keyed by stream index."""
    steps = getattr(turn, "steps_by_index", None) or turn.steps or []
    return render_steps(
        steps,
        turn_id=turn.pk,
        live_indices=getattr(turn, "live_indices", ()),
        running=not turn.is_final,
        response_format=(turn.request or {}).get("response_format"),
        verdicts=turn.schema_verdicts,
    )


@register.simple_tag(takes_context=True)
def user_attachments(context, turn):
    """The files in a turn's user input: thumbnails, players and file chips. In a review (the
    admin's transcript, `review=True`) names only: the files are served to their owner alone."""
    return render_user_input(turn, linked=not context.get("review"))


@register.simple_tag
def attachment_rules():
    """The file input's `accept` and the limits the composer checks before sending."""
    return format_html(
        'accept="{}" data-max-bytes="{}" data-max-files="{}" data-max-total-bytes="{}"',
        attachments.ACCEPT,
        attachments.max_bytes(),
        attachments.max_files(),
        attachments.max_total_bytes(),
    )


@register.simple_tag
def save_settings(conversation):
    """On a conversation, a settings change is saved when made: the same form and checks as a
    send, without the message or its files. Attributes for the composer's settings parts."""
    return format_html(
        'hx-post="{}" hx-trigger="change" hx-swap="none" '
        'hx-params="not message,attachments,background"',
        reverse("save-settings", args=[conversation.pk]),
    )
