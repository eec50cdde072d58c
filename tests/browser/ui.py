"""What the browser tests do again and again on the conversation page: send, open the settings
panel, wait for a reply to settle, look for what reached the emulator."""

import json
import re

from playwright.sync_api import expect

ASSISTANT = "[data-role=assistant]"
MESSAGE = "#composer textarea[name=message]"
CONVERSATION_URL = re.compile(r"/c/\d+/$")
REPLY_TIMEOUT = 20_000

# Records every status the assistant parts take, in order (the queued state of a background run
# lasts a fraction of a second: polling could miss it). Survives reloads: it is re-installed on
# every document the page loads.
STATUS_RECORDER = """
window.__statuses = [];
(function () {
  function note(el) {
    if (el.dataset && el.dataset.role === "assistant") {
      const last = window.__statuses[window.__statuses.length - 1];
      const entry = [el.id, el.dataset.status, Date.now()];
      if (!last || last[0] !== entry[0] || last[1] !== entry[1]) window.__statuses.push(entry);
    }
  }
  new MutationObserver(function (records) {
    for (const record of records) {
      if (record.type === "attributes") note(record.target);
      for (const node of record.addedNodes || []) {
        if (node.nodeType !== 1) continue;
        note(node);
        node.querySelectorAll("[data-role=assistant]").forEach(note);
      }
    }
  }).observe(document, {subtree: true, childList: true, attributes: true,
                        attributeFilter: ["data-status"]});
})();
"""

# The ids of steps the page saw appended one by one to a reply's `.steps`, as activity.js sees
# them. activity.js can only say how long a block of activity took when it saw the block's first
# step arrive so (the API gives steps no timestamps); a tab whose socket opened after the run
# began gets that step inside the server's snapshot, and then no duration is claimed. On a busy
# machine that happens, so tests ask which case this was instead of assuming one.
APPENDED_RECORDER = """
window.__appended = [];
new MutationObserver(function (records) {
  for (const record of records) {
    if (!record.target.classList || !record.target.classList.contains("steps")) continue;
    for (const node of record.addedNodes) {
      if (node.nodeType === 1 && node.dataset.stepType && node.id) window.__appended.push(node.id);
    }
  }
}).observe(document, {subtree: true, childList: true});
"""


def record_appended_steps(page) -> None:
    page.evaluate(APPENDED_RECORDER)


def block_seen_from_its_start(page, block) -> bool:
    """Whether the page saw this activity block's first step appended live (see above)."""
    first = block.locator(":scope > .activity-steps > [data-step-type]").first.get_attribute("id")
    return first in page.evaluate("window.__appended")


def send(page, text: str) -> None:
    """Type a message and press Enter, as a person does."""
    page.fill(MESSAGE, text)
    page.locator(MESSAGE).press("Enter")


def start(page, text: str) -> None:
    """The first message of a new conversation: wait until the address is the conversation's."""
    send(page, text)
    page.wait_for_url(CONVERSATION_URL)


def assistant(page):
    return page.locator(ASSISTANT).last


def wait_for_reply(page, turns: int | None = None, status: str = "completed") -> None:
    if turns is not None:
        expect(page.locator("[data-turn-id]")).to_have_count(turns)
    expect(assistant(page)).to_have_attribute("data-status", status, timeout=REPLY_TIMEOUT)


def open_settings(page) -> None:
    toggle = page.get_by_role("button", name="Settings")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    expect(page.locator("fieldset#composer-settings")).to_be_visible()


def choose(page, tools=(), functions=(), **fields) -> None:
    """Open the settings panel, tick tools and functions, and fill or select other fields."""
    open_settings(page)
    for tool in tools:
        page.check(f"#composer input[name=tools][value={tool}]")
    for function in functions:
        page.check(f"#composer input[name=functions][value={function}]")
    for name, value in fields.items():
        field = page.locator(f"#composer [name={name}]")
        advanced = page.locator("#composer details.advanced")
        if not field.is_visible() and advanced.get_attribute("open") is None:
            advanced.locator("summary").click()  # file search, schema and MCP live there
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def step(page, step_type: str):
    """The last turn's step of this API type."""
    return assistant(page).locator(f"[data-step-type={step_type}]")


def reveal(step_locator) -> None:
    """Open the activity block a step sits in (it closes once the answer starts), as a person
    does: click its summary."""
    block = step_locator.locator("xpath=ancestor::details[@data-activity]")
    if block.count() and block.first.get_attribute("open") is None:
        block.first.locator(":scope > summary").click()
        expect(block.first).to_have_attribute("open", "")


def natural_width(page, selector: str) -> int:
    page.wait_for_function(
        "(sel) => { const img = document.querySelector(sel); "
        "return img && img.complete && img.naturalWidth > 0; }",
        arg=selector,
        timeout=10_000,
    )
    return page.eval_on_selector(selector, "img => img.naturalWidth")


def body_with(emulator, text: str) -> dict:
    """The last create request the emulator received whose input mentions `text`."""
    for body in reversed(emulator.store.create_bodies()):
        if isinstance(body, dict) and text in json.dumps(body.get("input")):
            return body
    raise AssertionError(f"no request with {text!r} reached the emulator")


def interaction_with(emulator, text: str):
    """The emulator's stored interaction whose request input mentions `text` (the latest)."""
    record = emulator.store.last_interaction()
    assert record is not None and text in json.dumps(record.request.get("input")), (
        f"the emulator's last interaction is not the one for {text!r}"
    )
    return record


def into_view(locator) -> None:
    """Scroll the transcript so that this element is on screen (for a screenshot)."""
    locator.evaluate("el => el.scrollIntoView({block: 'start'})")
