"""Keyboard shortcuts (keys.js) and the skip link: Ctrl+K (or Cmd+K) searches, Ctrl+Shift+O
starts a new chat, Escape stops a streaming reply, ↑ in an empty composer edits the last message.

(Escape with the focus in the composer: test_accessibility.py.)"""

import re

import pytest
from playwright.sync_api import expect

from .conftest import screenshot
from .ui import MESSAGE, assistant, send, start, wait_for_reply

QUICK = "[emulator:pace=0]"
SEARCH = "#sidebar input[type=search][name=q]"
EDITOR = "[data-role=user] .edit-form textarea[name=message]"

# The elements a Tab press can reach, in the order it reaches them (no positive tabindex here).
TAB_ORDER = """() => [...document.querySelectorAll(
    'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea')]
  .filter(el => el.tabIndex >= 0 && !el.closest('[inert]')
                && getComputedStyle(el).visibility !== 'hidden' && el.getClientRects().length)
  .slice(0, 3).map(el => el.textContent.trim() || el.name || el.id)"""


@pytest.fixture
def page(new_page, fresh_user):
    return new_page(fresh_user)


@pytest.fixture
def two_turns(page):
    start(page, f"the first message {QUICK}")
    wait_for_reply(page, turns=1)
    send(page, f"the second message {QUICK}")
    wait_for_reply(page, turns=2)
    # ↑ edits only from an empty composer, which empties when the send is answered: on a busy
    # machine that answer may come after the quick reply.
    expect(page.locator(MESSAGE)).to_have_value("")
    return page


@pytest.mark.parametrize("keys", ["Control+k", "Meta+k"])
def test_ctrl_k_focuses_the_search_box(page, keys):
    page.locator(MESSAGE).fill("a draft")
    page.keyboard.press(keys)
    expect(page.locator(SEARCH)).to_be_focused()
    expect(page.locator(MESSAGE)).to_have_value("a draft")


def test_ctrl_k_on_a_phone_opens_the_drawer_to_search(new_page, fresh_user):
    phone = new_page(fresh_user, width=390, height=844)
    expect(phone.locator(SEARCH)).to_be_hidden()
    phone.keyboard.press("Control+k")
    expect(phone.locator(SEARCH)).to_be_visible()
    expect(phone.locator(SEARCH)).to_be_focused()
    expect(phone.get_by_role("button", name="Conversations")).to_have_attribute(
        "aria-expanded", "true"
    )


def test_ctrl_shift_o_starts_a_new_chat(page, server):
    start(page, f"an old chat {QUICK}")
    wait_for_reply(page)
    page.keyboard.press("Control+Shift+O")
    page.wait_for_url(f"{server.url}/")
    expect(page.locator(".empty-state")).to_be_visible()
    expect(page.locator("[data-turn-id]")).to_have_count(0)


def test_escape_stops_a_streaming_reply_wherever_the_focus_is(page):
    start(page, "talk for a long time [emulator:words=2000]")
    expect(page.locator(".stream-text").last).not_to_be_empty()
    page.locator("#conversation-title").click()  # the focus leaves the composer
    page.keyboard.press("Escape")
    expect(assistant(page)).to_have_attribute("data-status", "cancelled", timeout=5000)


def test_escape_after_the_reply_ends_stops_nothing(page):
    start(page, f"short {QUICK}")
    wait_for_reply(page)
    page.keyboard.press("Escape")
    expect(assistant(page)).to_have_attribute("data-status", "completed")
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_arrow_up_in_an_empty_composer_edits_the_last_message(two_turns):
    page = two_turns
    page.locator(MESSAGE).focus()
    page.keyboard.press("ArrowUp")
    editor = page.locator(EDITOR)
    expect(editor).to_have_count(1)
    expect(editor).to_be_focused()
    expect(editor).to_have_value(re.compile("^the second message"))
    last_turn = page.locator("[data-turn-id]").last
    expect(last_turn.locator(".edit-form")).to_have_count(1)
    screenshot(page, "keyboard-arrow-up-edit")


def test_arrow_up_in_a_composer_with_text_only_moves_the_caret(two_turns):
    page = two_turns
    page.fill(MESSAGE, "line one\nline two")
    page.keyboard.press("ArrowUp")
    expect(page.locator(EDITOR)).to_have_count(0)
    expect(page.locator(MESSAGE)).to_be_focused()


def test_a_skip_link_to_the_composer_comes_first(two_turns):
    page = two_turns
    assert page.evaluate(TAB_ORDER)[0] == "Skip to composer"
    link = page.get_by_role("link", name="Skip to composer")
    link.focus()
    expect(link).to_be_in_viewport()
    screenshot(page, "keyboard-skip-link")
    page.keyboard.press("Enter")
    expect(page.locator(MESSAGE)).to_be_focused()


@pytest.mark.parametrize("path", ["/c/", "/accounts/settings/"])
def test_pages_without_a_composer_skip_to_the_main_content(page, server, path):
    page.goto(f"{server.url}{path}")
    assert page.evaluate(TAB_ORDER)[0] == "Skip to main content"
    page.get_by_role("link", name="Skip to main content").focus()
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    # The next Tab lands in the main content, past the sidebar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
