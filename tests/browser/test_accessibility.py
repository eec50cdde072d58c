"""Keyboard and screen readers: Escape stops a reply, the focus stays in the composer, the
transcript is a polite live region the reply streams into, and every control on a busy
conversation page has an accessible name as Chromium itself computes it.

(Enter sends and Shift+Enter adds a line: test_chat_flows.py.)"""

from playwright.sync_api import expect

from .conftest import screenshot
from .ui import (
    MESSAGE,
    assistant,
    choose,
    open_settings,
    send,
    start,
    wait_for_reply,
)

QUICK = "[emulator:pace=0]"
ACTIVE_IS_THE_MESSAGE_BOX = "document.activeElement === document.getElementById('message')"


def test_escape_stops_a_streaming_reply(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, "talk for a long time [emulator:words=2000]")
    expect(page.locator(".stream-text").last).not_to_be_empty()
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_hidden()

    page.keyboard.press("Escape")
    expect(assistant(page)).to_have_attribute("data-status", "cancelled", timeout=5000)
    expect(page.locator(".turn-meta").last).to_contain_text("Stopped")
    assert 0 < len(assistant(page).inner_text().split()) < 2000
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_focus_stays_in_the_composer_after_sending(new_page, fresh_user):
    page = new_page(fresh_user)
    assert page.evaluate(ACTIVE_IS_THE_MESSAGE_BOX), "the composer has the focus on arrival"
    start(page, f"first {QUICK}")  # a new conversation: the whole app is swapped in
    expect(page.locator(MESSAGE)).to_be_focused()
    expect(page.locator(MESSAGE)).to_have_value("")
    wait_for_reply(page, turns=1)
    expect(page.locator(MESSAGE)).to_be_focused()  # the reply's swaps do not steal it

    send(page, f"second {QUICK}")  # an existing conversation: only the transcript changes
    expect(page.locator("[data-turn-id]")).to_have_count(2)
    expect(page.locator(MESSAGE)).to_have_value("")
    assert page.evaluate(ACTIVE_IS_THE_MESSAGE_BOX)
    wait_for_reply(page, turns=2)
    assert page.evaluate(ACTIVE_IS_THE_MESSAGE_BOX)
    page.keyboard.type("typing straight on")  # no click needed for the next message
    expect(page.locator(MESSAGE)).to_have_value("typing straight on")


def test_transcript_is_a_polite_live_region_the_reply_streams_into(new_page, fresh_user):
    page = new_page(fresh_user)
    log = page.locator("#transcript")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_have_attribute("role", "log")
    expect(page.get_by_role("log", name="Conversation")).to_have_count(1)

    start(page, "stream into the log [emulator:words=150]")
    live = page.locator("#transcript [data-role=assistant] .stream-text").last
    expect(live).not_to_be_empty()
    first = len(live.inner_text())
    page.wait_for_function(
        "(n) => { const el = document.querySelector('#transcript .stream-text');"
        " return el && el.textContent.length > n + 20; }",
        arg=first,
    )
    wait_for_reply(page)
    # The finished reply is inside the live region too, with nothing outside it but chrome.
    expect(log.locator("[data-step-type=model_output]")).to_have_count(1)
    assert len(log.locator("[data-step-type=model_output]").inner_text().split()) == 150


# What a keyboard or screen-reader user can reach or operate.
CONTROLS = (
    "a[href], area[href], button, input:not([type=hidden]), select, textarea, summary, iframe, "
    "audio[controls], video[controls], [tabindex]:not([tabindex='-1']), [contenteditable], "
    "[role=button], [role=link], [role=checkbox], [role=tab], [role=menuitem], [role=switch]"
)


def unnamed_controls(page) -> tuple[list[str], int]:
    """Every rendered control whose accessible name (Chromium's own computation, through the
    DevTools protocol) is empty, described by tag and attributes; and how many were checked."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node_ids = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": CONTROLS})
        missing, checked = [], 0
        for node_id in node_ids["nodeIds"]:
            ax = cdp.send("Accessibility.getPartialAXTree", {"nodeId": node_id})["nodes"][0]
            if ax.get("ignored"):
                continue  # not rendered (e.g. hidden): nobody can reach it
            checked += 1
            if not str(ax.get("name", {}).get("value", "")).strip():
                html = cdp.send("DOM.getOuterHTML", {"nodeId": node_id})["outerHTML"]
                missing.append(html[:160])
        return missing, checked
    finally:
        cdp.detach()


def test_every_control_on_the_conversation_page_has_an_accessible_name(new_page, fresh_user):
    page = new_page(fresh_user)
    # A busy page: tool cards, citations, sources, code with copy buttons, a thought, an
    # image, a failed turn with Retry, a file in the tray and the settings panel open.
    choose(page, tools=["google_search", "code_execution"], thinking_level="high")
    start(page, f"tea in Paris {QUICK}")
    wait_for_reply(page, turns=1)
    send(page, f"this one breaks [emulator:error] {QUICK}")
    wait_for_reply(page, turns=2, status="failed")
    page.select_option("#composer select[name=model]", "gemini-3.1-flash-image")
    send(page, f"draw a teapot {QUICK}")
    wait_for_reply(page, turns=3)
    page.set_input_files(
        "#composer input[type=file][name=attachments]",
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"notes"}],
    )
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    open_settings(page)
    page.evaluate("document.querySelectorAll('#transcript details').forEach(d => d.open = true)")

    missing, checked = unnamed_controls(page)
    assert checked > 40, f"only {checked} controls checked: is the page as busy as it should be?"
    assert missing == [], missing
    screenshot(page, "a11y-busy-page-desktop")

    # While a reply streams: the Stop button and the live cards.
    page.get_by_role("button", name="Remove notes.txt").click()
    page.select_option("#composer select[name=model]", "gemini-3.5-flash")
    send(page, "keep going [emulator:words=2000]")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(page.locator(".stream-text").last).not_to_be_empty()
    missing, _ = unnamed_controls(page)
    assert missing == [], missing
    page.get_by_role("button", name="Stop").click()
    expect(assistant(page)).to_have_attribute("data-status", "cancelled", timeout=5000)
