"""The icon set: one SVG sprite served by the app, drawn by `{% icon %}`; no emoji left in the
pages (without an emoji font they show as empty boxes)."""

import re
from pathlib import Path

import pytest
from django.template import Context, Template
from django.templatetags.static import static

from chatsite.chat import icons
from chatsite.chat.models import Conversation

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Emoji and pictographs (the ranges an emoji font supplies).
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]")


def draw(source: str, **context) -> str:
    return Template("{% load icons %}" + source).render(Context(context))


def test_an_icon_is_the_sprites_symbol_hidden_from_screen_readers():
    html = draw('{% icon "copy" %}')
    assert html == (
        '<svg class="icon icon-copy" aria-hidden="true" focusable="false">'
        f'<use href="{static("chatsite/icons.svg")}#copy"></use></svg>'
    )


def test_the_sprite_has_every_icon_the_brief_lists():
    wanted = {
        "send", "stop", "edit", "copy", "regenerate", "pin", "share", "export", "archive",
        "delete", "search", "new-chat", "menu", "close", "chevron-left", "chevron-right",
        "settings", "sun", "moon", "system", "attach", "check", "warning", "thinking",
        "search-tool", "code", "link", "map", "file", "function",
    }  # fmt: skip
    assert wanted <= icons.names()


def test_every_icon_a_template_names_is_in_the_sprite():
    used = set()
    for path in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r'{%\s*icon\s+"([^"]+)"', path.read_text()))
    assert used and used <= icons.names(), used - icons.names()


def test_the_step_cards_former_emoji_draw_icons():
    for emoji, name in icons.EMOJI.items():
        assert name in icons.names(), (emoji, name)
        assert f"#{name}" in draw("{% icon card_icon %}", card_icon=emoji)


def test_an_unknown_name_draws_the_unknown_icon_instead_of_failing():
    assert "#unknown" in draw('{% icon "no-such-icon" %}')


def test_the_sprite_is_served_as_svg(client):
    from django.contrib.staticfiles import finders

    text = Path(finders.find("chatsite/icons.svg")).read_text()
    assert text.startswith("<svg") and "<script" not in text
    assert (Path(finders.find("chatsite/icons.LICENSE"))).read_text().startswith("ISC License")


def test_the_pages_have_no_emoji(client, user):
    pinned = Conversation.objects.create(owner=user, title="Pinned one", pinned=True)
    client.force_login(user)
    for url in ("/", "/c/", "/c/?archived=1", "/accounts/settings/", pinned.get_absolute_url()):
        page = client.get(url).content.decode()
        assert not EMOJI.findall(page), (url, EMOJI.findall(page))
        assert "#menu" in page and "#close" in page, url
    assert "#pin" in page and "#attach" in page
