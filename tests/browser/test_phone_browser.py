"""Phones (390×844): the conversation list is a drawer on every page with the sidebar (opened by
"Conversations", focus kept inside, closed by Escape or a tap beside it), the chrome around the
transcript stays within a quarter of the screen, and message actions need no hover."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import screenshot
from .ui import choose, start, wait_for_reply

QUICK = "[emulator:pace=0]"
PHONE = {"width": 390, "height": 844}
FOCUS_IN_SIDEBAR = "document.getElementById('sidebar').contains(document.activeElement)"


@pytest.fixture
def phone(new_page, fresh_user):
    return new_page(fresh_user, **PHONE)


@pytest.fixture
def conversation_url(phone):
    start(phone, f"a conversation with a header full of actions {QUICK}")
    wait_for_reply(phone)
    return phone.url


def chrome_height(page) -> float:
    """How much of the screen the offline banner, the header and the composer take."""
    return page.evaluate(
        """() => ['.offline-banner', '#main-head', '#composer']
            .map(sel => document.querySelector(sel).getBoundingClientRect())
            .reduce((sum, box) => sum + box.height, 0)"""
    )


def test_banner_header_and_composer_take_at_most_a_quarter_of_a_phone(phone, conversation_url):
    expect(phone.get_by_role("button", name="Delete")).to_be_visible()
    expect(phone.locator(".offline-banner")).to_be_visible()
    height = chrome_height(phone)
    screenshot(phone, "phone-conversation-chrome")
    assert height <= 844 / 4, f"banner + header + composer are {height}px of 844"
    # The header's actions are icons here, and keep their names.
    for name in ("Rename", "Pin", "Share", "Export", "Archive", "Delete", "Send", "Settings"):
        button = phone.get_by_role("button", name=name, exact=True)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)


def test_home_page_chrome_fits_a_quarter_of_a_phone_too(phone):
    expect(phone.locator(".empty-state")).to_be_visible()
    assert chrome_height(phone) <= 844 / 4


@pytest.mark.parametrize("where", ["conversation", "/", "/c/", "/accounts/settings/"])
def test_the_drawer_opens_keeps_the_focus_and_closes_on_every_page(
    phone, conversation_url, server, where
):
    phone.goto(conversation_url if where == "conversation" else f"{server.url}{where}")
    drawer = phone.locator("#sidebar")
    opener = phone.get_by_role("button", name="Conversations")
    expect(drawer).to_be_hidden()
    expect(opener).to_have_attribute("aria-expanded", "false")

    opener.click()
    expect(drawer).to_be_in_viewport()
    expect(opener).to_have_attribute("aria-expanded", "true")
    expect(phone.locator("#sidebar input[type=search][name=q]")).to_be_focused()
    # Tab and Shift+Tab go round the drawer's own controls, never to the page behind it.
    for _ in range(phone.locator("#sidebar a, #sidebar button, #sidebar input").count() + 2):
        phone.keyboard.press("Tab")
        assert phone.evaluate(FOCUS_IN_SIDEBAR)
    for _ in range(3):
        phone.keyboard.press("Shift+Tab")
        assert phone.evaluate(FOCUS_IN_SIDEBAR)
    expect(phone.locator("#main")).to_have_js_property("inert", True)

    phone.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(opener).to_have_attribute("aria-expanded", "false")
    expect(opener).to_be_focused()
    expect(phone.locator("#main")).to_have_js_property("inert", False)

    # A tap on the dimmed page beside the drawer closes it too.
    opener.click()
    expect(drawer).to_be_in_viewport()
    phone.mouse.click(375, 600)
    expect(drawer).to_be_hidden()


def test_the_drawers_close_button_closes_it(phone, conversation_url):
    phone.get_by_role("button", name="Conversations").click()
    phone.wait_for_timeout(250)  # the slide-in, for the picture only
    screenshot(phone, "phone-drawer-open")
    phone.get_by_role("button", name="Close the list").click()
    expect(phone.locator("#sidebar")).to_be_hidden()


def test_on_a_touch_screen_every_answer_action_shows_without_hover(new_page, fresh_user):
    page = new_page(fresh_user, **PHONE, has_touch=True, is_mobile=True)
    choose(page, tools=["code_execution"])
    start(page, f"run something {QUICK}")
    wait_for_reply(page)
    code_copy = page.locator(".md pre .copy-code").first
    expect(code_copy).to_be_attached()
    expect(code_copy).to_have_css("opacity", "1")
    for name in ("Edit", "Copy", "Regenerate"):
        button = page.get_by_role("button", name=name, exact=True).last
        expect(button).to_be_visible()
        assert button.bounding_box()["height"] >= 32, name
    expect(page.get_by_role("button", name=re.compile("^Copy code"))).not_to_have_count(0)
