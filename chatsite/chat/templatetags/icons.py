from django import template
from django.utils.safestring import SafeString

from chatsite.chat.icons import icon as draw

register = template.Library()


@register.simple_tag
def icon(name: str, css_class: str = "") -> SafeString:
    """`{% icon "copy" %}`: one of the app's SVG icons (chatsite/chat/icons.py)."""
    return draw(name, css_class)
