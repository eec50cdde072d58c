"""Hostile content in a real browser: the emulator fills every text field it makes up (model
output, citation titles and URLs, place names, tool results, Google's search-suggestion
widget) with XSS payloads. Nothing may run: no dialog (the new_page fixture fails the test on
one), no changed title, no script, handler or script URL in the transcript, and the suggestion
widget's frame can neither run script nor reach the page."""

from playwright.sync_api import expect

from .conftest import screenshot
from .ui import assistant, choose, start, step, wait_for_reply

ALL_TOOLS = ["google_search", "google_maps", "url_context", "code_execution"]

# Everything in the transcript that could run code or load something it should not.
DANGERS = """() => {
  const root = document.getElementById("transcript");
  const found = [];
  const bad = /^(javascript|data|vbscript):/;
  for (const el of root.querySelectorAll("*")) {
    const tag = el.localName;
    if (["script", "style", "object", "embed", "base", "meta", "link", "form"].includes(tag))
      found.push(`<${tag}>`);
    if (tag === "iframe" && !el.classList.contains("search-suggestions"))
      found.push(`<iframe src=${el.getAttribute("src")}>`);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.replace(/[\\u0000-\\u0020]/g, "").toLowerCase();
      if (name.startsWith("on")) found.push(`${tag}[${name}]`);
      if (["href", "src", "srcset", "action", "formaction", "xlink:href", "poster", "data",
           "background"].includes(name) && bad.test(value))
        found.push(`${tag}[${name}=${attr.value}]`);
    }
  }
  return found;
}"""


def assert_inert(page) -> None:
    assert page.evaluate(DANGERS) == []
    assert "pwned" not in page.title()
    assert page.evaluate("getComputedStyle(document.body).display") != "none"
    expect(page.locator("#composer")).to_be_visible()  # no injected style hid the page


def keep_frame_csp_reports_out_of_problems(page) -> list[str]:
    """The suggestion widget's own CSP blocks what hostile HTML inside it asks for (an
    <img src=x>): that is the defence working, inside the sandboxed frame. Take those reports,
    and only those, out of the page's problems; return them."""
    from_frame = {
        msg.text
        for msg in page.console_log
        if "/suggestions/" in (msg.location or {}).get("url", "")
    }
    expected = [p for p in page.problems if p.removeprefix("CSP violation: ") in from_frame]
    page.problems[:] = [p for p in page.problems if p not in expected]
    return expected


def test_hostile_tool_output_stays_inert_in_the_browser(new_page, fresh_user):
    page = new_page(fresh_user)
    page.console_log = []
    page.on("console", lambda msg: page.console_log.append(msg))
    suggestions = []
    page.on("response", lambda r: "/suggestions/" in r.url and suggestions.append(r))
    choose(page, tools=ALL_TOOLS)
    start(page, "[emulator:hostile]")
    title = page.title()
    wait_for_reply(page)
    assert page.title() == title

    # The payloads are on the page as text, so the test is not passing vacuously.
    shown = page.locator("#transcript").inner_text()
    for payload in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:"):
        assert payload in shown, payload
    assert page.locator("#transcript img[src=x]").count() == 0
    assert_inert(page)

    # Google's widget: framed from our origin in a sandbox without scripts or same-origin.
    frame_element = step(page, "google_search_result").locator("iframe.search-suggestions")
    expect(frame_element).to_have_count(1)
    sandbox = frame_element.get_attribute("sandbox").split()
    for token in ("allow-scripts", "allow-same-origin", "allow-top-navigation"):
        assert token not in sandbox, sandbox
    expect(page.frame_locator("iframe.search-suggestions").locator("body")).not_to_be_empty(
        timeout=10_000
    )
    # An opaque origin: the page cannot reach into it, nor it into the page.
    assert frame_element.evaluate("f => f.contentDocument") is None
    frame = frame_element.element_handle().content_frame()
    assert frame.evaluate("document.title") != "pwned", "the widget's script ran"
    assert frame.evaluate("window.origin") == "null"
    assert suggestions and "sandbox" in suggestions[0].headers["content-security-policy"]
    assert page.title() == title
    screenshot(page, "hostile-desktop")

    page.reload()  # the server-rendered page is just as inert
    expect(assistant(page)).to_have_attribute("data-status", "completed")
    assert_inert(page)
    blocked = keep_frame_csp_reports_out_of_problems(page)
    assert all("suggestions/x" in report for report in blocked), blocked


MARKDOWN = "look <img src=x onerror=alert(1)> and [x](javascript:alert(1)) here"


def test_markdown_with_an_onerror_image_and_a_javascript_link_stays_inert(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, MARKDOWN)
    title = f"{MARKDOWN} · chatsite"  # the tab follows the conversation's title, as text
    expect(page).to_have_title(title)
    expect(page.locator("[data-role=user] .user-text")).to_have_text(MARKDOWN)  # shown as typed
    wait_for_reply(page)

    answer = step(page, "model_output")
    expect(answer).to_contain_text("look")  # the reply quotes the message, as markdown
    assert answer.locator("img").count() == 0
    links = answer.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert not any(h and h.strip().lower().startswith("javascript:") for h in links), links
    assert_inert(page)
    assert page.title() == title
    screenshot(page, "hostile-markdown-desktop")

    page.reload()
    expect(page.locator("[data-role=user] .user-text")).to_have_text(MARKDOWN)
    assert step(page, "model_output").locator("img").count() == 0
    assert_inert(page)
