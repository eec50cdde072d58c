"""Markdown is formatted while the answer streams, and what it ends as is what a reload shows."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import screenshot

ASSISTANT = "[data-role=assistant]"
ANSWER = f"{ASSISTANT} [data-step-type=model_output] .md"

SAMPLE = """## Plan for **Turn 1.**

Some **bold words** and a [link](https://example.org/docs) in a paragraph that goes on a while.

- first **item**
- second item with `code`

| Name | Value |
|------|------:|
| a    | 1     |

```python
print("hi")
```

## Next

1. one
2. two

> A quote to end with."""

# Every state the answer's element passes through: a MutationObserver records its text and
# how many top-level elements it has after each change (each frame is one task), so nothing
# depends on when the test happens to look.
RECORDER = """
document.addEventListener("DOMContentLoaded", () => {
  window.samples = [];
  new MutationObserver(() => {
    const live = document.querySelector(".stream-text");
    if (!live) return;
    window.liveElement = live;
    window.samples.push({ text: live.textContent, blocks: live.children.length });
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
});
"""

# The answer's DOM as a string: tags, sorted attributes and text (whitespace-only text aside).
SHAPE = """
(el) => {
  const shape = (node) => {
    if (node.nodeType === 3) return node.textContent.trim() ? node.textContent : "";
    if (node.nodeType !== 1) return "";
    const attrs = [...node.attributes].map((a) => `${a.name}="${a.value}"`).sort().join(" ");
    return `<${node.localName} ${attrs}>` + [...node.childNodes].map(shape).join("") + "</>";
  };
  return shape(el);
}
"""


@pytest.fixture
def page(new_page, fresh_user):
    page = new_page(user=fresh_user)
    page.add_init_script(RECORDER)
    page.reload()
    return page


def send(page, text):
    page.fill("#composer textarea[name=message]", text)
    page.keyboard.press("Enter")


def test_answer_is_formatted_while_it_streams_and_ends_as_a_reload_shows_it(page):
    send(page, SAMPLE + "\n[emulator:echo] [emulator:pace=40]")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(".stream-text h2").first).to_be_visible(timeout=10_000)
    screenshot(page, "live-markdown-streaming-desktop")
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=30_000
    )

    samples = page.evaluate("window.samples")
    # From the first state whose first block is complete (a second one has begun) on.
    after = [s for s in samples[next(i for i, s in enumerate(samples) if s["blocks"] >= 2) :]]
    assert len(after) >= 10, "the answer was seen growing"
    for sample in after:
        for raw in ("**", "```", "## "):
            assert raw not in sample["text"], f"raw {raw!r} shown while streaming: {sample}"

    answer = page.locator(ANSWER).last
    expect(answer.locator("pre code span").first).to_be_visible()  # highlighted once closed
    assert page.evaluate("document.contains(window.liveElement)"), (
        "the answer element the tab built is the final one: no second copy replaced it"
    )
    live_shape = answer.evaluate(SHAPE)
    copy_source = page.locator(".copy-answer").last.get_attribute("data-source")
    assert copy_source == SAMPLE, "Copy gives the Markdown, as the tab received it"
    for tag in (
        "h2",
        "strong",
        "ul",
        "ol",
        "table",
        "blockquote",
        'href="https://example.org/docs"',
    ):
        assert tag in live_shape
    screenshot(page, "live-markdown-final-desktop")

    page.reload()
    expect(page.locator(ASSISTANT).last).to_have_attribute("data-status", "completed")
    assert page.locator(ANSWER).last.evaluate(SHAPE) == live_shape
    assert page.locator(".copy-answer").last.get_attribute("data-source") == copy_source


def test_reload_mid_stream_shows_the_text_so_far_formatted(page):
    page.set_viewport_size({"width": 390, "height": 844})  # on a phone, in the dark
    page.emulate_media(color_scheme="dark")
    send(page, SAMPLE + "\n[emulator:echo] [emulator:pace=120]")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(".stream-text ul").first).to_be_visible(timeout=15_000)
    page.reload()
    live = page.locator(".stream-text").last
    expect(live.locator("h2").first).to_be_visible(timeout=5_000)
    expect(live).not_to_contain_text("**")
    screenshot(page, "live-markdown-streaming-phone-dark")
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=30_000
    )
    final = page.locator(ANSWER).last.evaluate(SHAPE)
    screenshot(page, "live-markdown-final-phone-dark")
    page.reload()
    assert page.locator(ANSWER).last.evaluate(SHAPE) == final
