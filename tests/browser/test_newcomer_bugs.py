"""Bugs a newcomer hit (issue 13, item 6), each shown in a real browser: what they saw, and what
they see now."""

import re

import pytest
from playwright.sync_api import expect

from ..servers import PASSWORD, AppProcess, app_env, set_up_site
from .conftest import screenshot
from .ui import MESSAGE, open_settings, send, start, wait_for_reply

QUICK = "[emulator:pace=0]"
WIDTHS = [("desktop", 1280, 860), ("phone", 390, 844)]

# Every htmx error event and console error a page raises, kept on `window.__problems` (installed
# before any script of the page runs, on every document the page loads).
PROBLEM_RECORDER = """
window.__problems = [];
for (const name of ["htmx:oobErrorNoTarget", "htmx:targetError", "htmx:swapError",
                    "htmx:responseError", "htmx:sendError", "htmx:syntax:error",
                    "htmx:wsError", "htmx:onLoadError", "htmx:evalDisallowedError"]) {
  document.addEventListener(name, (e) => {
    const detail = e.detail || {};
    const what = detail.content ? (detail.content.id || detail.content.outerHTML.slice(0, 80))
                                : String(detail.error || "");
    window.__problems.push(name + " " + what);
  }, true);
}
"""

# Marks the page once one of its websockets is open (window.__wsOpen).
SOCKET_WATCH = "document.addEventListener('htmx:wsOpen', () => { window.__wsOpen = true; });"


def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    return errors


def boxes_intersect(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.parametrize(("label", "width", "height"), WIDTHS, ids=[w[0] for w in WIDTHS])
def test_the_welcome_heading_never_covers_the_composer_with_settings_open(
    new_page, fresh_user, label, width, height
):
    page = new_page(fresh_user, width=width, height=height)
    open_settings(page)
    heading = page.get_by_role("heading", name="What can I help with?")
    expect(heading).to_be_visible()
    box = heading.bounding_box()
    for part in ("#composer .composer-actions", "#composer-settings"):
        other = page.locator(part).bounding_box()
        assert box and other and not boxes_intersect(box, other), (part, box, other)
    screenshot(page, f"newcomer-home-settings-open-{label}")


def server_header(page) -> tuple[str, str]:
    """The conversation's title and token total as the server renders them now."""
    html = page.request.get(page.url).text()
    title = re.search(r"<title>(.*?) · chatsite</title>", html)
    tokens = re.search(r'id="conversation-usage"[^>]*>([^<]*)<', html) or re.search(
        r'class="usage conversation-usage"[^>]*>([^<]*)<', html
    )
    assert title and tokens, "the server's page has a title and a token total"
    return title.group(1), tokens.group(1).strip()


@pytest.fixture(scope="module")
def titled_server(tmp_path_factory, browser_emulator):
    """The app with model titles on (the shared server has them off): a title's tokens count."""
    var = tmp_path_factory.mktemp("titled")
    env = app_env(
        var, browser_emulator.base_url, GEMINI_TITLE_MODEL="gemini-3.1-flash-lite-preview"
    )
    env.pop("DATABASE_URL", None)  # SQLite of its own
    set_up_site(env, users=("titled",))
    app = AppProcess(env, var / "daphne.log")
    yield app
    app.stop()


def test_header_tokens_and_the_tab_title_follow_each_finished_turn(browser, titled_server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{titled_server.url}/accounts/login/")
    page.fill("input[name=username]", "titled")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{titled_server.url}/")
    # Paced: the title is sent to the tabs open then (a tab that connects later gets it on reload).
    start(page, "tell me about herons please [emulator:pace=40]")
    wait_for_reply(page, turns=1)
    # The model's title comes after the reply, and its tokens count in the total.
    expect(page.locator("#conversation-title")).not_to_have_text("tell me about herons please")
    title, tokens = server_header(page)
    expect(page.locator("#conversation-title")).to_have_text(title)
    expect(page).to_have_title(f"{title} · chatsite")
    header = page.locator(".main-head .conversation-usage")
    expect(header).to_have_text(tokens)

    send(page, f"and egrets? {QUICK}")
    wait_for_reply(page, turns=2)
    _, more = server_header(page)
    assert more != tokens
    expect(header).to_have_text(more)
    context.close()


def test_other_tabs_sidebars_get_a_new_conversation(new_page, fresh_user):
    on_home = new_page(fresh_user)
    on_home.add_init_script(SOCKET_WATCH)
    on_home.reload()
    on_home.wait_for_function("() => window.__wsOpen === true", timeout=10_000)
    writer = new_page(fresh_user)
    start(writer, "the first one")
    first_id = writer.url.rstrip("/").rsplit("/", 1)[1]
    expect(on_home.locator(f"#sidebar a[data-conversation-id='{first_id}']")).to_be_visible()
    wait_for_reply(writer, turns=1)

    on_conversation = new_page(fresh_user)
    on_conversation.add_init_script(SOCKET_WATCH)
    on_conversation.goto(writer.url)
    on_conversation.wait_for_function("() => window.__wsOpen === true", timeout=10_000)
    writer.get_by_role("link", name="New chat").click()
    start(writer, "the second one")
    new_id = writer.url.rstrip("/").rsplit("/", 1)[1]
    for tab in (on_conversation, on_home):
        expect(tab.locator(f"#sidebar a[data-conversation-id='{new_id}']")).to_be_visible()
    wait_for_reply(writer, turns=1)


def test_sending_offline_keeps_the_text_says_so_and_sends_when_back(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, f"hello {QUICK}")
    wait_for_reply(page, turns=1)
    page.context.set_offline(True)
    send(page, f"while on a train {QUICK}")
    note = page.locator("[data-offline-note]")
    expect(note).to_be_visible()
    expect(note).to_have_text("You're offline — will send when you're back")
    expect(page.locator(MESSAGE)).to_have_value(f"while on a train {QUICK}")
    screenshot(page, "newcomer-offline-note-desktop")

    page.context.set_offline(False)
    wait_for_reply(page, turns=2)
    expect(page.locator("[data-role=user]").last).to_contain_text("while on a train")
    expect(note).to_be_hidden()
    expect(page.locator(MESSAGE)).to_have_value("")


def test_sending_offline_on_a_new_chat_sends_when_back(new_page, fresh_user):
    page = new_page(fresh_user)
    page.context.set_offline(True)
    send(page, f"a first message offline {QUICK}")
    expect(page.locator("[data-offline-note]")).to_be_visible()
    expect(page.locator(MESSAGE)).to_have_value(f"a first message offline {QUICK}")
    page.context.set_offline(False)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    wait_for_reply(page, turns=1)


def test_retries_say_when_and_why(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, f"busy day [emulator:fail=503x2] [emulator:retry_after=3] {QUICK}")
    note = page.locator("[data-retry-note]")
    expect(note).to_contain_text(re.compile(r"Retrying in \d+ s…"), timeout=10_000)
    expect(note).to_contain_text("busy")  # the reason, in words
    screenshot(page, "newcomer-retry-note-desktop")
    wait_for_reply(page, turns=1)
    expect(note).to_have_count(0)


def test_a_first_turn_and_stop_leave_the_console_clean(new_page, fresh_user):
    page = new_page(fresh_user)
    errors = console_errors(page)
    page.add_init_script(PROBLEM_RECORDER)
    page.reload()
    start(page, "a clean start")
    wait_for_reply(page, turns=1)
    send(page, "a long one to stop [emulator:words=400]")
    expect(page.locator("[data-turn-id]")).to_have_count(2)
    page.get_by_role("button", name="Stop").click()
    wait_for_reply(page, turns=2, status="cancelled")
    assert (page.evaluate("window.__problems"), errors) == ([], [])


HEBREW = "שיחה ארוכה מאוד על ציפורים נודדות בעמק החולה ובמקומות רבים אחרים בארץ ובעולם כולו"


def test_a_long_hebrew_title_keeps_its_first_words_in_the_sidebar(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, f"hello {QUICK}")
    wait_for_reply(page, turns=1)
    page.get_by_role("button", name="Rename").click()
    page.fill("input[name=title]", HEBREW)
    page.locator("input[name=title]").press("Enter")
    link = page.locator("#sidebar a[data-conversation-id]").first
    expect(link).to_contain_text(HEBREW)
    page.reload()
    link = page.locator("#sidebar a[data-conversation-id]").first
    shape = link.evaluate(
        """(a) => {
          const style = getComputedStyle(a);
          const text = [...a.childNodes].find((n) => n.nodeType === 3 && n.data.trim());
          const start = text.data.indexOf(text.data.trim().split(" ")[0]);
          const range = document.createRange();
          range.setStart(text, start);
          range.setEnd(text, start + text.data.trim().split(" ")[0].length);
          const word = range.getBoundingClientRect(), box = a.getBoundingClientRect();
          return {direction: style.direction, overflow: style.textOverflow,
                  clipped: a.scrollWidth > a.clientWidth,
                  firstWordShown: word.left >= box.left - 1 && word.right <= box.right + 1};
        }"""
    )
    assert shape == {
        "direction": "rtl",
        "overflow": "ellipsis",
        "clipped": True,
        "firstWordShown": True,
    }


def test_search_suggestions_have_no_light_frame_in_dark_mode(new_page, fresh_user):
    page = new_page(fresh_user)
    page.emulate_media(color_scheme="dark")
    open_settings(page)
    page.check("#composer input[name=tools][value=google_search]")
    start(page, f"green tea {QUICK}")
    wait_for_reply(page, turns=1)
    frame = page.locator("iframe.search-suggestions").first
    expect(frame).to_be_visible()
    page.wait_for_timeout(300)  # the frame's document paints after its load event
    frame.scroll_into_view_if_needed()
    png = frame.screenshot()
    corners = brightest_edge(page, png)
    assert corners < 90, f"the frame's edge is light ({corners}) on a dark page"
    screenshot(page, "newcomer-search-suggestions-dark")


def brightest_edge(page, png: bytes) -> int:
    """The brightest pixel (0-255, mean of R, G, B) along the picture's outer 3 px."""
    import base64

    decoder = page.context.new_page()
    try:
        return decoder.evaluate(
            """async (data) => {
              const img = new Image();
              img.src = "data:image/png;base64," + data;
              await img.decode();
              const c = document.createElement("canvas");
              c.width = img.width; c.height = img.height;
              const g = c.getContext("2d");
              g.drawImage(img, 0, 0);
              const px = g.getImageData(0, 0, c.width, c.height).data;
              let most = 0;
              for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
                if (x > 2 && x < c.width - 3 && y > 2 && y < c.height - 3) continue;
                const i = (y * c.width + x) * 4;
                most = Math.max(most, (px[i] + px[i + 1] + px[i + 2]) / 3);
              }
              return Math.round(most);
            }""",
            base64.b64encode(png).decode(),
        )
    finally:
        decoder.close()
