"""Every language in a real browser (issue 14, item 6): each language's sign-in and conversation
pages with the right lang/dir, mixed-direction messages laid out right, and screenshots of the
right-to-left languages (he, fa) at 1280 and 390 px, light and dark."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import screenshot, sign_in
from .ui import (
    assistant,
    block_seen_from_its_start,
    record_appended_steps,
    start,
    wait_for_reply,
)

QUICK = "[emulator:pace=0]"
# Slow enough that a research run's steps arrive one by one, as from the real agent.
SLOW = "[emulator:pace=8]"
LANGUAGES = ["en", "ru", "he", "vi", "fa", "it"]
RTL = {"he", "fa"}
SIGN_IN = {"en": "Sign in", "ru": "Войти", "he": "התחברות", "vi": "Đăng nhập", "fa": "ورود",
           "it": "Accedi"}  # fmt: skip
SEND = {"en": "Send", "ru": "Отправить", "he": "שליחה", "vi": "Gửi", "fa": "ارسال",
        "it": "Invia"}  # fmt: skip


@pytest.fixture
def page_in(new_blank_page):
    """page_in(locale, width=1280, dark=False) → a page whose browser asks for `locale`
    (Accept-Language and navigator.language), signed out."""

    def make(locale, *, width=1280, height=860, dark=False):
        scheme = "dark" if dark else "light"
        return new_blank_page(width=width, height=height, locale=locale, color_scheme=scheme)

    return make


def expect_language(page, code):
    html = page.locator("html")
    expect(html).to_have_attribute("lang", code)
    expect(html).to_have_attribute("dir", "rtl" if code in RTL else "ltr")


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_languages_sign_in_page_is_in_that_language_and_direction(page_in, server, code):
    page = page_in(code)
    page.goto(f"{server.url}/accounts/login/")
    expect_language(page, code)
    expect(page.get_by_role("heading", name=SIGN_IN[code])).to_be_visible()
    direction = page.locator(".card").evaluate("e => getComputedStyle(e).direction")
    assert direction == ("rtl" if code in RTL else "ltr")


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_languages_conversation_page_is_in_that_language_and_direction(
    page_in, server, fresh_user, code
):
    page = page_in(code)
    sign_in(page, server, fresh_user)
    expect_language(page, code)
    start(page, f"hello {QUICK}")
    wait_for_reply(page)
    expect_language(page, code)
    expect(page.locator("#composer button[type=submit]")).to_have_text(SEND[code])


def bubble_side(page, text) -> str:
    """Which side of the transcript the user bubble holding `text` sits on."""
    bubble = page.locator("[data-role=user]", has_text=text)
    box, area = bubble.bounding_box(), page.locator("#transcript").bounding_box()
    left_gap = box["x"] - area["x"]
    right_gap = area["x"] + area["width"] - (box["x"] + box["width"])
    return "right" if right_gap < left_gap else "left"


def text_direction(page, text) -> str:
    return page.locator(".user-text", has_text=text).evaluate("e => getComputedStyle(e).direction")


def test_a_hebrew_message_reads_right_to_left_in_an_english_page(page_in, server, fresh_user):
    page = page_in("en")
    sign_in(page, server, fresh_user)
    start(page, f"שלום, מה שלומך? {QUICK}")
    wait_for_reply(page)
    expect_language(page, "en")
    assert text_direction(page, "שלום") == "rtl"
    assert bubble_side(page, "שלום") == "right"  # the page's inline end: the person's side


def test_an_english_message_reads_left_to_right_in_a_hebrew_page(page_in, server, fresh_user):
    page = page_in("he")
    sign_in(page, server, fresh_user)
    start(page, f"Hello, how are you? {QUICK}")
    wait_for_reply(page)
    expect_language(page, "he")
    assert text_direction(page, "Hello") == "ltr"
    assert bubble_side(page, "Hello") == "left"  # mirrored: the inline end of a Hebrew page
    sidebar, main = page.locator("#sidebar").bounding_box(), page.locator("#main").bounding_box()
    assert sidebar["x"] > main["x"]  # the sidebar is on the right


def choose_language(page, server, code):
    """The person's own choice, saved on the settings page."""
    page.goto(f"{server.url}/accounts/settings/")
    page.select_option("select[name=language]", code)
    page.locator("form:has(select[name=language]) button[type=submit]").click()
    expect_language(page, code)


@pytest.mark.parametrize("code", sorted(RTL))
def test_right_to_left_screenshots(page_in, server, fresh_user, code):
    """The chosen language beats the browser's; replies come in it; the layout mirrors. The
    screenshots are looked at: nothing overlapping, the sidebar and bubbles mirrored."""
    page = page_in("en")
    sign_in(page, server, fresh_user)
    choose_language(page, server, code)
    expect(page.locator(".settings-saved")).to_be_visible()
    screenshot(page, f"languages-{code}-settings-1280-light")
    page.goto(f"{server.url}/")
    start(page, f"{'سلام! یک خلاصه بنویس' if code == 'fa' else 'שלום! כתוב סיכום'} {QUICK}")
    wait_for_reply(page)
    expect(page.locator("[data-role=assistant] .md").last).to_contain_text(
        "به فارسی" if code == "fa" else "בעברית"
    )
    start_url = page.url
    for dark in (False, True):
        for width, height in ((1280, 860), (390, 844)):
            shot = page_in("en", width=width, height=height, dark=dark)
            sign_in(shot, server, fresh_user)
            shot.goto(start_url)
            expect_language(shot, code)
            wait_for_reply(shot)
            screenshot(shot, f"languages-{code}-{width}-{'dark' if dark else 'light'}")


AGENT = "deep-research-pro-preview-12-2025"
# Live, activity.js writes the summary in the page's language: verb · count · time it took.
LIVE_RESEARCH = {
    "he": re.compile(r"^חיפש · 3 חיפושים · (\d+ דק׳ )?\d+ שנ׳$"),
    "fa": re.compile("^جست\u200cوجو کرد · 3 جست\u200cوجو · (\\d+ دقیقه و )?\\d+ ثانیه$"),
}
LIVE_RESEARCH_UNTIMED = {"he": "חיפש · 3 חיפושים", "fa": "جست\u200cوجو کرد · 3 جست\u200cوجو"}
SEARCH_CHIP = {"he": "חיפוש", "fa": "جست\u200cوجو"}
THEME = {"he": "ערכת נושא: לפי המערכת", "fa": "پوسته: مطابق سیستم"}
CLOSE_LIST = {"he": "סגירת הרשימה", "fa": "بستن فهرست"}


@pytest.mark.parametrize("code", sorted(RTL))
def test_live_activity_chips_theme_and_drawer_in_a_right_to_left_language(
    page_in, server, fresh_user, code
):
    """The words the merged work added, in Hebrew and Persian: the activity summary activity.js
    builds while the research runs, the composer's chips, the theme switch and the phone's
    drawer. Screenshots: languages-{code}-activity-*.png."""
    page = page_in("en")
    sign_in(page, server, fresh_user)
    choose_language(page, server, code)
    page.goto(f"{server.url}/")
    record_appended_steps(page)
    page.locator("#composer .settings-toggle").click()
    page.check("#composer input[name=tools][value=google_search]")
    page.select_option("#composer select[name=model]", AGENT)
    start(page, f"the history of tea {SLOW}")
    expect(assistant(page)).to_have_attribute("data-status", "completed", timeout=90_000)
    block = assistant(page).locator("details[data-activity]")
    if block_seen_from_its_start(page, block):
        expect(block.locator(".activity-label")).to_have_text(LIVE_RESEARCH[code])
    else:  # the socket opened after the run began: the same words, no duration made up
        expect(block.locator(".activity-label")).to_have_text(LIVE_RESEARCH_UNTIMED[code])
    expect(page.locator("[data-settings-summary] .chip").first).to_have_text(SEARCH_CHIP[code])
    expect(page.locator("#sidebar .theme-toggle")).to_have_attribute("aria-label", THEME[code])
    block.scroll_into_view_if_needed()
    screenshot(page, f"languages-{code}-activity-1280-light")
    url = page.url
    for dark in (False, True):
        phone = page_in("en", width=390, height=844, dark=dark)
        sign_in(phone, server, fresh_user)
        phone.goto(url)
        expect_language(phone, code)
        expect(assistant(phone)).to_have_attribute("data-status", "completed")
        shade = "dark" if dark else "light"
        assistant(phone).locator("details[data-activity] > summary").scroll_into_view_if_needed()
        screenshot(phone, f"languages-{code}-activity-390-{shade}")
        phone.locator(".main-head .drawer-open").click()
        close = phone.get_by_role("button", name=CLOSE_LIST[code])
        expect(close).to_be_in_viewport()
        phone.wait_for_timeout(250)  # the slide-in, for the picture only
        screenshot(phone, f"languages-{code}-drawer-390-{shade}")
