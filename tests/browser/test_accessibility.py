"""Keyboard and screen readers: Escape stops a reply, the focus stays in the composer, the
transcript is a polite live region the reply streams into, and every control on a busy
conversation page has an accessible name as Chromium itself computes it.

(Enter sends and Shift+Enter adds a line: test_chat_flows.py.)"""

import pytest
from playwright.sync_api import expect

from .conftest import screenshot
from .test_layout_browser import contrast
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


# Every piece of text on screen, with its colour and the colour behind it, both as sRGB with
# any transparency blended onto what lies beneath (a canvas turns any CSS colour into rgba).
TEXT_COLOURS = """(root) => {
  const ctx = document.createElement('canvas').getContext('2d');
  function rgba(css) {
    ctx.fillStyle = '#000'; ctx.fillStyle = css;
    const v = ctx.fillStyle;
    if (v.startsWith('#')) return [1, 3, 5].map(i => parseInt(v.slice(i, i + 2), 16)).concat(1);
    const n = v.match(/[\\d.]+/g).map(Number);
    return n.length === 4 ? n : n.concat(1);
  }
  function over(top, below) {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + below[i] * (1 - a)).concat(1);
  }
  function behind(el) {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const c = rgba(getComputedStyle(node).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] === 1) break;
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  }
  const found = [];
  for (const el of document.querySelectorAll(root + ' *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    if (el.closest('.visually-hidden, [inert], .steps, .user-text, mark')) continue;
    const style = getComputedStyle(el);
    if (parseFloat(style.fontSize) === 0) continue;
    const bg = behind(el);
    const fg = over(rgba(style.color), bg);
    const name = el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    found.push([name + ' ' + JSON.stringify(el.textContent.trim().slice(0, 30)),
                'rgb(' + fg.slice(0, 3).join(',') + ')', 'rgb(' + bg.slice(0, 3).join(',') + ')']);
  }
  return found;
}"""


def low_contrast(page, root="body") -> tuple[list[str], int]:
    """Text under `root` below WCAG AA (4.5:1), described; and how many pieces were checked."""
    found = page.evaluate(TEXT_COLOURS, root)
    low = [f"{what}: {contrast(fg, bg):.2f}" for what, fg, bg in found if contrast(fg, bg) < 4.5]
    return low, len(found)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_all_text_reads_at_wcag_aa_in_light_and_dark(new_page, fresh_user, server, theme):
    page = new_page(fresh_user, color_scheme="light" if theme == "dark" else "dark")
    start(page, f"a conversation to read {QUICK}")
    wait_for_reply(page)
    pages = [page.url, f"{server.url}/c/", f"{server.url}/c/?archived=1",
             f"{server.url}/accounts/settings/"]  # fmt: skip
    for url in pages:
        page.goto(url)
        page.evaluate("(t) => { document.documentElement.dataset.theme = t; }", theme)
        low, checked = low_contrast(page)
        assert checked > 12, f"only {checked} pieces of text on {url}"
        assert low == [], (url, low)
    # A conversation in the sidebar under the pointer (hover darkens its background).
    page.goto(pages[0])
    page.evaluate("(t) => { document.documentElement.dataset.theme = t; }", theme)
    page.locator("#sidebar .conversation-list a").first.hover()
    low, _ = low_contrast(page, "#sidebar")
    assert low == [], low
