"""The icons in the browser: the sprite is served (as SVG, by the app), the page's icons draw
from it, and the composer's file tray shows icons where it showed emoji."""

import re

from playwright.sync_api import expect

EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]")


def test_icons_come_from_the_apps_own_sprite(new_page, fresh_user, server):
    page = new_page(fresh_user)
    href = page.locator("#composer .attach svg.icon use").get_attribute("href")
    sprite, name = href.split("#")
    assert name == "attach" and sprite.startswith("/static/")
    response = page.request.get(f"{server.url}{sprite}")
    assert response.ok and response.headers["content-type"].startswith("image/svg+xml")
    assert f'<symbol id="{name}"' in response.text()
    box = page.locator("#composer .attach svg.icon").bounding_box()
    assert 12 <= box["width"] <= 24 and 12 <= box["height"] <= 24, box
    assert not EMOJI.findall(page.locator("body").inner_text())


def test_a_file_in_the_tray_shows_an_icon_not_an_emoji(new_page, fresh_user):
    page = new_page(fresh_user)
    page.set_input_files(
        "#composer input[type=file][name=attachments]",
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"notes"}],
    )
    thumb = page.locator("#attachment-tray .attachment-thumb").first
    expect(thumb.locator("svg.icon use")).to_have_attribute(
        "href", re.compile(r"icons.*\.svg#file$")
    )
    assert not EMOJI.findall(thumb.inner_text())
