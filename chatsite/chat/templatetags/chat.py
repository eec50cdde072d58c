from django import template

from chatsite.chat.rendering import render_steps

register = template.Library()


@register.simple_tag
def turn_steps(turn):
    """A turn's assistant steps; a streaming turn passes its steps keyed by stream index."""
    steps = getattr(turn, "steps_by_index", None) or turn.steps or []
    return render_steps(steps, turn_id=turn.pk, live_indices=getattr(turn, "live_indices", ()))
