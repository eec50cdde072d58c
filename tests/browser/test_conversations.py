"""Managing conversations in the browser: the sidebar and its phone drawer, Rename, Pin,
Archive and Delete in the header, the archived list."""

import re

import pytest
from playwright.sync_api import expect

from ..servers import PASSWORD, AppProcess, app_env, set_up_site
from .conftest import screenshot
from .ui import start, wait_for_reply

SIDEBAR_LINKS = "#sidebar a[data-conversation-id]"


def chat(page, server, text):
    page.goto(f"{server.url}/")
    start(page, text)
    wait_for_reply(page)
    return page.url


def looks(page, name):
    """Screenshots in light and dark, for a person to look at (test-artifacts/)."""
    page.wait_for_timeout(300)  # let the drawer finish sliding: this is a picture, not a check
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        screenshot(page, f"{name}-{scheme}")
    page.emulate_media(color_scheme="light")


def test_rename_pin_archive_and_delete_from_the_header(new_page, fresh_user, server):
    page = new_page(fresh_user)
    first = chat(page, server, "first one about apples")
    second = chat(page, server, "second one about pears")
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(2)

    page.get_by_role("button", name="Rename").click()
    title = page.locator("input[name=title]")
    expect(title).to_be_focused()
    title.fill("Pear notes")
    title.press("Enter")
    expect(page.locator("#conversation-title")).to_have_text("Pear notes")
    expect(page).to_have_title(re.compile("^Pear notes"))
    expect(page.locator(f"{SIDEBAR_LINKS}[aria-current=page]")).to_have_text("Pear notes")

    page.goto(first)
    page.get_by_role("button", name="Pin").click()
    expect(page.get_by_role("button", name="Unpin")).to_be_visible()
    pinned = page.locator("#sidebar section", has=page.get_by_role("heading", name="Pinned"))
    expect(pinned.locator("a[data-conversation-id]")).to_have_count(1)
    expect(page.locator(SIDEBAR_LINKS).first).to_contain_text("apples")
    looks(page, "conversations-header-desktop")

    page.goto(second)
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_role("button", name="Unarchive")).to_be_visible()
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(1)
    page.goto(f"{server.url}/c/?archived=1")
    looks(page, "conversations-archived-desktop")
    page.get_by_role("button", name="Unarchive").click()
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(2)

    page.goto(first)
    page.get_by_role("button", name="Delete").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("in the background")
    looks(page, "conversations-delete-dialog-desktop")
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{server.url}/")
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(1)
    assert page.request.get(first).status == 404


def test_on_a_phone_the_list_is_a_drawer_on_every_page(new_page, fresh_user, server):
    page = new_page(fresh_user, width=390, height=844)
    url = chat(page, server, "a phone conversation with a rather long first message to wrap")
    for where in (url, f"{server.url}/", f"{server.url}/c/"):
        page.goto(where)
        expect(page.locator(SIDEBAR_LINKS)).not_to_be_visible()
        opener = page.get_by_role("button", name="Conversations")
        opener.click()
        expect(page.locator(SIDEBAR_LINKS).first).to_be_visible()
        expect(opener).to_have_attribute("aria-expanded", "true")
        if where == url:
            looks(page, "conversations-drawer-phone")
        page.keyboard.press("Escape")
        expect(page.locator(SIDEBAR_LINKS)).not_to_be_visible()
    page.goto(url)
    looks(page, "conversations-header-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways on a phone"


def test_search_narrows_the_list_and_opens_at_the_matching_turn(new_page, fresh_user, server):
    page = new_page(fresh_user)
    chat(page, server, "tell me about kayaks")
    url = chat(page, server, "first about sourdough bread")
    page.fill("#composer textarea[name=message]", "now about rye flour")
    page.locator("#composer textarea[name=message]").press("Enter")
    wait_for_reply(page, turns=2)

    page.goto(f"{server.url}/")
    page.keyboard.press("Control+k")
    box = page.locator("input[type=search][name=q]")
    expect(box).to_be_focused()
    box.type("rye flo")
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(1)
    expect(page.locator("#sidebar mark").first).to_have_text(re.compile("rye", re.IGNORECASE))
    looks(page, "conversations-search-desktop")
    page.locator(SIDEBAR_LINKS).click()
    page.wait_for_url(re.compile(r"\?turn=\d+#turn-\d+$"))
    assert page.url.startswith(url)
    turn = page.url.rsplit("#turn-", 1)[1]
    expect(page.locator(f"#turn-{turn} [data-role=user]")).to_contain_text("rye flour")
    box.fill("")
    box.type("kayak bread")  # the words are in two different conversations
    expect(page.locator("#sidebar")).to_contain_text("Nothing found")
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(0)


def test_share_a_snapshot_then_stop_sharing(new_page, fresh_user, server, browser):
    page = new_page(fresh_user)
    chat(page, server, "a conversation worth sharing")
    page.get_by_role("button", name="Share").click()
    link = page.locator("input[name=share_url]")
    expect(link).to_have_value(re.compile(rf"^{re.escape(server.url)}/s/[\w-]+/$"))
    looks(page, "conversations-share-desktop")
    url = link.input_value()

    stranger = browser.new_context(viewport={"width": 390, "height": 844})
    shared = stranger.new_page()
    shared.goto(url)
    expect(shared.locator("[data-role=user]")).to_contain_text("worth sharing")
    expect(shared.locator("[data-role=assistant][data-status=completed]")).to_have_count(1)
    assert shared.locator("#composer, #sidebar, a[data-conversation-id]").count() == 0
    looks(shared, "conversations-shared-phone")

    page.get_by_role("button", name="Stop sharing").click()
    expect(page.locator("input[name=share_url]")).to_have_count(0)
    assert shared.request.get(url).status == 404
    stranger.close()


def test_export_json_and_import_it_back(new_page, fresh_user, server, tmp_path):
    page = new_page(fresh_user)
    chat(page, server, "a conversation to carry over")
    page.get_by_role("button", name="Export").click()
    expect(page.get_by_role("link", name="Markdown")).to_be_visible()
    looks(page, "conversations-export-menu-desktop")
    with page.expect_download() as download:
        page.get_by_role("link", name="JSON").click()
    saved = tmp_path / "export.json"
    download.value.save_as(saved)

    page.goto(f"{server.url}/c/")
    page.set_input_files("input[type=file][name=file]", str(saved))
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("[data-role=user]")).to_contain_text("carry over")
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(2)

    page.goto(f"{server.url}/c/")
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": "world"}')
    page.set_input_files("input[type=file][name=file]", str(bogus))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert")).to_contain_text("not a chatsite conversation")
    looks(page, "conversations-import-error-desktop")


def test_drafts_stay_across_reloads_until_sent(new_page, fresh_user, server):
    page = new_page(fresh_user)
    box = page.locator("#composer textarea[name=message]")
    box.fill("a draft for a new conversation")
    page.wait_for_function("() => Object.keys(localStorage).some(k => k.includes('draft:new'))")
    page.reload()
    expect(box).to_have_value("a draft for a new conversation")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    wait_for_reply(page)
    box.fill("half a thought")
    page.wait_for_function("() => Object.keys(localStorage).some(k => /draft:\\d+/.test(k))")
    page.goto(f"{server.url}/")
    expect(box).to_have_value("")  # the new conversation's draft was sent, so it is gone
    page.go_back()
    expect(box).to_have_value("half a thought")


def test_another_tab_sees_the_list_change_live(new_page, fresh_user, server, browser):
    page = new_page(fresh_user)
    older = chat(page, server, "the older conversation")
    chat(page, server, "the newer conversation")
    other = page.context.new_page()  # a second tab of the same person
    other.problems = []
    other.on("pageerror", lambda exc: other.problems.append(f"page error: {exc}"))
    other.goto(older)
    expect(other.locator(SIDEBAR_LINKS).first).to_contain_text("newer")
    page.goto(older)
    page.fill("#composer textarea[name=message]", "bring me back up")
    page.locator("#composer textarea[name=message]").press("Enter")
    # Both are today's: the other tab moves the entry itself (a `{"top": id}` frame), keeping
    # one "Today" group and its own conversation marked.
    expect(other.locator(SIDEBAR_LINKS).first).to_contain_text("older", timeout=10_000)
    expect(other.locator("#conversation-list section")).to_have_count(1)
    expect(other.locator(SIDEBAR_LINKS)).to_have_count(2)
    expect(other.locator(f"{SIDEBAR_LINKS}[aria-current=page]")).to_contain_text("older")
    wait_for_reply(page, turns=2)
    assert not other.problems, other.problems


def test_tabs_without_a_conversation_see_new_ones_arrive_live(new_page, fresh_user, server):
    page = new_page(fresh_user)
    chat(page, server, "an earlier conversation")
    tabs = []
    for where in ("/", "/c/"):
        tab = page.context.new_page()
        tab.problems = []
        tab.on("pageerror", lambda exc, tab=tab: tab.problems.append(f"page error: {exc}"))
        tab.goto(f"{server.url}{where}")
        expect(tab.locator(SIDEBAR_LINKS)).to_have_count(1)
        tabs.append(tab)
    chat(page, server, "harbour tides tonight")
    for tab in tabs:
        expect(tab.locator(SIDEBAR_LINKS).first).to_contain_text("harbour", timeout=10_000)
        expect(tab.locator(SIDEBAR_LINKS)).to_have_count(2)
        assert not tab.problems, tab.problems


def test_settings_downloads_all_my_conversations_as_a_zip(new_page, fresh_user, server, tmp_path):
    import json
    import zipfile

    page = new_page(fresh_user)
    chat(page, server, "one about apples")
    chat(page, server, "one about pears")
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url(f"{server.url}/accounts/settings/")
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(2)
    looks(page, "settings-desktop")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all conversations").click()
    saved = tmp_path / "all.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        said = sorted(
            json.loads(archive.read(n))["turns"][0]["user_input"][0]["text"]
            for n in names
            if n.endswith(".json")
        )
    assert said == ["one about apples", "one about pears"] and len(names) == 4


def test_on_a_phone_export_and_share_fit_the_screen(new_page, fresh_user, server):
    page = new_page(fresh_user, width=390, height=844)
    chat(page, server, "phone export")
    page.get_by_role("button", name="Export").click()
    json_link = page.get_by_role("link", name="JSON")
    expect(json_link).to_be_visible()
    box = json_link.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    looks(page, "conversations-export-menu-phone")
    page.keyboard.press("Escape")
    expect(json_link).to_be_hidden()
    page.get_by_role("button", name="Share").click()
    expect(page.locator("input[name=share_url]")).to_be_visible()
    looks(page, "conversations-share-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways on a phone"


def test_select_several_and_delete_them(new_page, fresh_user, server):
    page = new_page(fresh_user)
    for words in ("first to go", "second to go", "the one to keep"):
        chat(page, server, words)
    page.goto(f"{server.url}/c/")
    page.get_by_label("Select “first to go”").check()
    page.get_by_label("Select “second to go”").check()
    page.get_by_role("button", name="Delete selected").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("in the background")
    looks(page, "conversations-bulk-delete-desktop")
    dialog.get_by_role("button", name="Delete them").click()
    page.wait_for_url(f"{server.url}/c/")
    expect(page.locator(SIDEBAR_LINKS)).to_have_count(1)
    expect(page.locator(SIDEBAR_LINKS)).to_have_text("the one to keep")


@pytest.fixture(scope="module")
def titled_server(tmp_path_factory, browser_emulator):
    """The app with model titles on (the shared test server has them off, so that other tests
    find their own request as the emulator's last)."""
    var = tmp_path_factory.mktemp("titled")
    env = app_env(
        var, browser_emulator.base_url, GEMINI_TITLE_MODEL="gemini-3.1-flash-lite-preview"
    )
    env.pop("DATABASE_URL", None)  # SQLite of its own
    set_up_site(env, users=("titled",))
    app = AppProcess(env, var / "daphne.log")
    yield app
    app.stop()


def test_the_models_title_arrives_in_the_page_and_the_tab(browser, titled_server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{titled_server.url}/accounts/login/")
    page.fill("input[name=username]", "titled")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{titled_server.url}/")
    start(page, "[emulator:pace=40] how do tides work on other planets")
    expect(page.locator("#conversation-title")).to_have_text("how do tides work on other planets")
    expect(page).to_have_title("how do tides work on other planets · chatsite")
    wait_for_reply(page)
    expect(page.locator("#conversation-title")).to_have_text("How do tides work on other")
    expect(page).to_have_title("How do tides work on other · chatsite")
    expect(page.locator(SIDEBAR_LINKS).first).to_have_text("How do tides work on other")
    context.close()
