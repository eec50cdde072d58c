"""Reading an answer: math drawn as MathML, task lists, wide things that scroll inside their own
block (never the page), and the Copy / Copy code buttons, with the real app, the real emulator
(told what to answer) and chromium."""

import pytest
from playwright.sync_api import expect

from chatsite.emulator import generator

from ..servers import PASSWORD
from .conftest import screenshot
from .ui import ASSISTANT, into_view, start, wait_for_reply

QUICK = "[emulator:pace=0]"

CODE = 'def brew(minutes: int) -> str:\n    return "bitter" if minutes > 3 else "fine"\n'

ANSWER = f"""# Green tea, measured

## The sums

Energy is $E = mc^2$, a thin space sits in \\(a\\,b\\), and prices stay prices: $5 and $10.

$$\\int_0^1 x^2\\,dx = \\frac{{1}}{{3}}$$

\\[\\sum_{{n=1}}^{{\\infty}} \\frac{{1}}{{n^2}} = \\frac{{\\pi^2}}{{6}}\\]

## What to do

- [x] Read the brief
- [ ] Brew at 75 °C
- [ ] Taste after three minutes

![A cup of sencha](https://example.com/sencha.jpg)

## Temperatures

| Kind | Temperature | Minutes |
|------|-------------|---------|
| Sencha | 75 °C | 1 |
| Gyokuro | 60 °C | 2 |

## The code

```python
{CODE}```
"""

WIDE = (
    "A long token: "
    + "x" * 2_000
    + "\n\n"
    + "| "
    + " | ".join(f"Column {n}" for n in range(20))
    + " |\n|"
    + "---|" * 20
    + "\n| "
    + " | ".join(f"value-{n}-wide" for n in range(20))
    + " |\n\n```text\n"
    + "y" * 600
    + "\n```\n\n$$"
    + " + ".join(f"x_{{{n}}}" for n in range(80))
    + "$$\n\nInline, too: $"
    + " + ".join(f"y_{{{n}}}" for n in range(80))
    + "$.\n"
)


@pytest.fixture
def answer_with(monkeypatch):
    """answer_with(markdown): the emulator's replies, for this test, are exactly this Markdown
    (the emulator runs in this process, so its prose is swapped for the test's own)."""

    def use(markdown: str) -> None:
        monkeypatch.setattr(generator, "compose_answer", lambda ctx: (markdown, []))

    return use


@pytest.fixture
def touch_page(browser, server, fresh_user):
    """A signed-in phone: touch, no hover, 390 px wide."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/accounts/login/")
    page.fill("input[name=username]", fresh_user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    yield page
    assert not errors, errors
    context.close()


def answer(page):
    return page.locator(ASSISTANT).last


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def grant_clipboard(page, server) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)


def test_math_renders_as_mathml_and_the_answer_looks_right(new_page, fresh_user, answer_with):
    answer_with(ANSWER)
    page = new_page(fresh_user)
    start(page, f"How do I brew green tea? {QUICK}")
    wait_for_reply(page, 1)
    reply = answer(page)
    expect(reply.locator("math[display=block]")).to_have_count(2)
    expect(reply.locator("math[display=inline]")).to_have_count(2)
    for math in reply.locator("math").all():
        box = math.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0
    # \, is a thin space the browser lays out, not a lost character.
    assert reply.locator("math mspace[width='0.167em']").count() == 2
    expect(reply.locator(".md")).to_contain_text("prices stay prices: $5 and $10.")
    boxes = reply.locator(".task-list-item input[type=checkbox]")
    expect(boxes).to_have_count(3)
    expect(boxes.first).to_be_checked()
    expect(boxes.first).to_be_disabled()
    # A picture the model linked is a link to it, never loaded.
    expect(reply.locator("img")).to_have_count(0)
    picture = reply.get_by_role("link", name="A cup of sencha")
    expect(picture).to_have_attribute("href", "https://example.com/sencha.jpg")
    expect(picture).to_have_attribute("title", "Image not shown: remote images are blocked")
    into_view(reply.locator("h1"))
    screenshot(page, "reading-desktop-light")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "reading-desktop-dark")
    into_view(reply.locator("table"))
    screenshot(page, "reading-desktop-dark-lower")


def test_copy_code_puts_exactly_the_code_on_the_clipboard(
    new_page, fresh_user, server, answer_with
):
    answer_with(ANSWER)
    page = new_page(fresh_user)
    grant_clipboard(page, server)
    start(page, f"Show me the code {QUICK}")
    wait_for_reply(page, 1)
    button = answer(page).get_by_role("button", name="Copy code")
    expect(button).to_have_count(1)
    answer(page).locator("pre").hover()
    button.click()
    assert clipboard(page) == CODE


def test_copy_puts_the_answers_markdown_source_on_the_clipboard(
    new_page, fresh_user, server, answer_with
):
    answer_with(ANSWER)
    page = new_page(fresh_user)
    grant_clipboard(page, server)
    start(page, f"Give me all of it {QUICK}")
    wait_for_reply(page, 1)
    page.get_by_role("button", name="Copy", exact=True).click()
    assert clipboard(page).strip() == ANSWER.strip()


def test_copy_works_without_the_clipboard_api_on_plain_http(
    new_page, fresh_user, server, answer_with
):
    """A LAN install on plain http has no navigator.clipboard: copying still works."""
    answer_with(ANSWER)
    page = new_page(fresh_user)
    grant_clipboard(page, server)
    # As there: no Clipboard API (the test keeps it aside to read what was copied).
    page.add_init_script(
        "window.keptClipboard = navigator.clipboard;"
        "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});"
    )
    page.reload()
    start(page, f"Over plain http {QUICK}")
    wait_for_reply(page, 1)
    assert page.evaluate("navigator.clipboard === undefined")
    answer(page).locator("pre").hover()
    answer(page).get_by_role("button", name="Copy code").click()
    assert page.evaluate("window.keptClipboard.readText()") == CODE


def test_copy_buttons_show_without_hover_on_a_touch_screen(touch_page, answer_with):
    answer_with(ANSWER)
    page = touch_page
    assert page.evaluate("matchMedia('(hover: none)').matches")
    start(page, f"On my phone {QUICK}")
    wait_for_reply(page, 1)
    copy_code = answer(page).get_by_role("button", name="Copy code")
    into_view(answer(page).locator("pre"))
    expect(copy_code).to_have_css("opacity", "1")
    expect(page.get_by_role("button", name="Copy", exact=True)).to_be_visible()
    # The button sits above the code, not over its first line.
    first_line = (
        "code => code.getBoundingClientRect().top + parseFloat(getComputedStyle(code).paddingTop)"
    )
    code_top = answer(page).locator("pre > code").evaluate(first_line)
    button_box = copy_code.bounding_box()
    assert button_box and button_box["y"] + button_box["height"] <= code_top
    screenshot(page, "reading-touch-code")


def test_copy_code_is_hidden_until_hover_with_a_mouse(new_page, fresh_user, answer_with):
    answer_with(ANSWER)
    page = new_page(fresh_user)
    start(page, f"With a mouse {QUICK}")
    wait_for_reply(page, 1)
    copy_code = answer(page).get_by_role("button", name="Copy code")
    into_view(answer(page).locator("pre"))
    expect(copy_code).to_have_css("opacity", "0")
    answer(page).locator("pre").hover()
    expect(copy_code).to_have_css("opacity", "1")


def test_code_blocks_written_later_get_their_copy_button(new_page, fresh_user, server):
    """Blocks the page writes without htmx (the live renderer while a reply streams), and a
    block whose content is rewritten, get their button too."""
    page = new_page(fresh_user)
    grant_clipboard(page, server)
    start(page, f"hello {QUICK}")
    wait_for_reply(page, 1)
    page.evaluate(
        """() => {
          const md = document.createElement("div");
          md.className = "md live-test";
          const pre = document.createElement("pre");
          const code = document.createElement("code");
          code.textContent = "print('live')\\n";
          pre.appendChild(code);
          md.appendChild(pre);
          document.querySelector("[data-role=assistant] .steps").appendChild(md);
        }"""
    )
    live = page.locator(".live-test")
    expect(live.get_by_role("button", name="Copy code")).to_have_count(1)
    # Rewritten as it grows: the button comes back, once.
    page.evaluate(
        """() => {
          const pre = document.querySelector(".live-test pre");
          pre.textContent = "";
          const code = document.createElement("code");
          code.textContent = "print('live, grown')\\n";
          pre.appendChild(code);
        }"""
    )
    expect(live.get_by_role("button", name="Copy code")).to_have_count(1)
    live.locator("pre").hover()
    live.get_by_role("button", name="Copy code").click()
    assert clipboard(page) == "print('live, grown')\n"


def test_a_phone_never_scrolls_sideways_for_wide_answers(new_page, fresh_user, answer_with):
    answer_with(WIDE)
    page = new_page(fresh_user, width=390, height=844)
    start(page, f"Everything wide {QUICK}")
    wait_for_reply(page, 1)
    reply = answer(page)
    expect(reply.locator("table th")).to_have_count(20)
    widths = page.evaluate(
        """() => ({
          page: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          transcript: document.getElementById("transcript").scrollWidth,
          transcriptBox: document.getElementById("transcript").clientWidth,
        })"""
    )
    assert widths["page"] <= widths["viewport"], widths
    assert widths["transcript"] <= widths["transcriptBox"], widths
    # The table, the code and the sums scroll inside their own blocks instead.
    for selector in ("table", "pre > code", ".math-display", "p:has(> math)"):
        block = reply.locator(f".md {selector}").first
        inner, outer = block.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert inner > outer, selector
        assert block.bounding_box()["width"] <= widths["viewport"]
    screenshot(page, "reading-wide-phone-light")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "reading-wide-phone-dark")


def test_the_answer_looks_right_on_a_phone(new_page, fresh_user, answer_with):
    answer_with(ANSWER)
    page = new_page(fresh_user, width=390, height=844)
    start(page, f"How do I brew green tea? {QUICK}")
    wait_for_reply(page, 1)
    reply = answer(page)
    expect(reply.locator("math")).to_have_count(4)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    into_view(reply.locator("h1"))
    screenshot(page, "reading-phone-light")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "reading-phone-dark")
    into_view(reply.locator("table"))
    screenshot(page, "reading-phone-dark-lower")
