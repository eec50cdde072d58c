"""Versions in the browser: edit a message, regenerate an answer, move between versions; a
reload and a second tab show the same branch."""

import base64
import re

from playwright.sync_api import expect

from chatsite.emulator.media import make_png

from .conftest import screenshot
from .ui import ASSISTANT, body_with, send, start, wait_for_reply

QUICK = "[emulator:pace=0]"


def turn(page, n):
    return page.locator("article.turn").nth(n)


def test_edit_regenerate_and_switch_versions(new_page, fresh_user, browser_emulator):
    page = new_page(fresh_user)
    start(page, f"my dog is Rex {QUICK}")
    wait_for_reply(page, 1)
    send(page, f"what is my dog called? {QUICK}")
    wait_for_reply(page, 2)
    first_interaction = body_with(browser_emulator, "what is my dog called?")[
        "previous_interaction_id"
    ]
    expect(page.locator("[data-model]").last).to_have_text(re.compile(r"\S"))

    # Edit: the message becomes a text box; Cancel puts it back.
    second = turn(page, 1)
    second.get_by_role("button", name="Edit").click()
    box = second.locator("textarea[name=message]")
    expect(box).to_have_value(f"what is my dog called? {QUICK}")
    second.get_by_role("button", name="Cancel").click()
    expect(box).to_have_count(0)
    expect(second.locator("[data-role=user]")).to_contain_text("what is my dog called?")

    second.get_by_role("button", name="Edit").click()
    box.fill(f"how old is Rex? {QUICK}")
    screenshot(page, "branches-editing-desktop")
    second.get_by_role("button", name="Send").click()
    expect(page.locator("[data-role=user]").last).to_contain_text("how old is Rex?")
    wait_for_reply(page, 2)
    # The edited turn's request goes to the first turn's interaction: a new branch.
    assert body_with(browser_emulator, "how old is Rex?")["previous_interaction_id"] == (
        first_interaction
    )
    branch = turn(page, 1).locator("[data-branch]")
    expect(branch).to_have_text(re.compile(r"2\s*/\s*2"))

    # Regenerate: a third version of that turn, the question not repeated.
    turn(page, 1).get_by_role("button", name="Regenerate", exact=True).click()
    expect(turn(page, 1).locator("[data-branch]")).to_have_text(re.compile(r"3\s*/\s*3"))
    wait_for_reply(page, 2)
    expect(page.locator("[data-role=user]", has_text="how old is Rex?")).to_have_count(1)

    # Back to the first version, without a reload.
    page.evaluate("window.__stayed = true")
    turn(page, 1).get_by_role("button", name="Previous version").click()
    expect(turn(page, 1).locator("[data-branch]")).to_have_text(re.compile(r"2\s*/\s*3"))
    turn(page, 1).get_by_role("button", name="Previous version").click()
    expect(turn(page, 1).locator("[data-branch]")).to_have_text(re.compile(r"1\s*/\s*3"))
    expect(turn(page, 1).locator("[data-role=user]")).to_contain_text("what is my dog called?")
    expect(page.locator("article.turn")).to_have_count(2)
    assert page.evaluate("window.__stayed") is True
    screenshot(page, "branches-desktop")

    # The next message continues the branch on screen.
    send(page, f"and his colour? {QUICK}")
    wait_for_reply(page, 3)
    followed = page.locator("article.turn").nth(1).get_attribute("data-turn-id")
    assert page.locator("article.turn").last.get_attribute("data-parent") == followed

    # A reload shows the same branch.
    page.reload()
    expect(page.locator("article.turn")).to_have_count(3)
    expect(turn(page, 1).locator("[data-branch]")).to_have_text(re.compile(r"1\s*/\s*3"))
    expect(turn(page, 2).locator("[data-role=user]")).to_contain_text("and his colour?")
    turn(page, 1).get_by_role("button", name="Next version").click()
    expect(turn(page, 1).locator("[data-role=user]")).to_contain_text("how old is Rex?")
    expect(page.locator("article.turn")).to_have_count(2)


def test_a_second_tab_sees_a_new_version_replace_the_old(new_page, fresh_user):
    one = new_page(fresh_user)
    start(one, f"first words {QUICK}")
    wait_for_reply(one, 1)
    send(one, f"second words {QUICK}")
    wait_for_reply(one, 2)
    two = new_page(fresh_user)
    two.goto(one.url)
    expect(two.locator("article.turn")).to_have_count(2)
    one.locator("article.turn").nth(0).get_by_role("button", name="Edit").click()
    one.locator("article.turn textarea[name=message]").fill(f"other first words {QUICK}")
    one.locator("article.turn textarea[name=message]").press("Enter")
    # The other tab shows the new version in place of the old one and what followed it.
    expect(two.locator("article.turn")).to_have_count(1)
    expect(two.locator("[data-role=user]")).to_contain_text("other first words")
    expect(two.locator("[data-branch]")).to_have_text(re.compile(r"2\s*/\s*2"))
    expect(two.locator(ASSISTANT).last).to_have_attribute("data-status", "completed")


def test_copy_puts_the_answers_markdown_on_the_clipboard(new_page, fresh_user, server):
    page = new_page(fresh_user)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    start(page, f"some **bold** words {QUICK}")
    wait_for_reply(page, 1)
    page.get_by_role("button", name="Copy", exact=True).click()
    copied = page.evaluate("navigator.clipboard.readText()")
    source = page.locator(".copy-answer").get_attribute("data-source")
    assert copied == source and copied.strip()
    page.locator(".answer-details > summary").click()
    expect(page.locator(".answer-details dl").first).to_be_visible()
    page.emulate_media(color_scheme="dark")
    page.locator(".regenerate-with > summary").click()
    expect(page.locator(".regenerate-with .menu button").first).to_be_visible()  # loaded on open
    # The panel holds its models (a `top` from the header menus' rule once squeezed it to 14 px).
    panel = page.locator(".regenerate-with .menu").bounding_box()
    last = page.locator(".regenerate-with .menu button").last.bounding_box()
    assert panel and last and last["y"] + last["height"] <= panel["y"] + panel["height"] + 1
    screenshot(page, "branches-details-desktop-dark")


def test_versions_look_right_narrow_and_dark(new_page, fresh_user, browser):
    page = new_page(fresh_user, width=390)
    page.emulate_media(color_scheme="dark")
    start(page, f"hello {QUICK}")
    wait_for_reply(page, 1)
    page.get_by_role("button", name="Regenerate", exact=True).click()
    expect(page.locator("[data-branch]")).to_have_text(re.compile(r"2\s*/\s*2"))
    wait_for_reply(page, 1)
    page.locator(".answer-details > summary").last.click()
    expect(page.locator(".answer-details dl.tokens").last).to_be_visible()
    screenshot(page, "branches-mobile-dark")
    # Nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(".regenerate-with > summary").click()
    expect(page.locator(".regenerate-with .menu button").first).to_be_visible()
    screenshot(page, "branches-menu-mobile-dark")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.emulate_media(color_scheme="light")
    page.get_by_role("button", name="Edit").click()
    screenshot(page, "branches-editing-mobile")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


PICTURE = make_png(b"a picture to keep", 48, 32)
EDIT_FORM = "article.turn .edit-form"


def test_edit_a_message_removing_one_file_and_adding_another(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    page.fill("#composer textarea[name=message]", f"what are these? {QUICK}")
    page.set_input_files(
        "#composer input[type=file][name=attachments]",
        files=[
            {"name": "picture.png", "mimeType": "image/png", "buffer": PICTURE},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"old notes\n"},
        ],
    )
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    wait_for_reply(page, 1)
    first = turn(page, 0)

    # The edit form lists the message's files, each removable; Cancel puts the message back.
    first.get_by_role("button", name="Edit").click()
    form = page.locator(EDIT_FORM)
    expect(form.get_by_role("button", name="Remove picture.png")).to_be_visible()
    expect(form.get_by_role("button", name="Remove notes.txt")).to_be_visible()
    expect(first.locator(".user-attachments")).to_be_hidden()
    form.get_by_role("button", name="Cancel").click()
    expect(form).to_have_count(0)
    expect(first.locator(".user-attachments")).to_be_visible()

    first.get_by_role("button", name="Edit").click()
    form.get_by_role("button", name="Remove notes.txt").click()
    expect(form.get_by_role("button", name="Remove notes.txt")).to_have_count(0)
    form.locator("input[type=file][name=attachments]").set_input_files(
        files=[{"name": "more.md", "mimeType": "text/markdown", "buffer": b"# More notes\n"}]
    )
    expect(form.get_by_role("button", name="Remove more.md")).to_be_visible()
    form.locator("textarea[name=message]").fill(f"and with these? {QUICK}")
    screenshot(page, "branches-edit-files-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "branches-edit-files-mobile")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.emulate_media(color_scheme="dark")
    screenshot(page, "branches-edit-files-mobile-dark")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 860})

    form.get_by_role("button", name="Send").click()
    expect(turn(page, 0).locator("[data-branch]")).to_have_text(re.compile(r"2\s*/\s*2"))
    wait_for_reply(page, 1)
    expect(turn(page, 0).locator("[data-role=user]")).to_contain_text("and with these?")
    expect(turn(page, 0).locator(".user-attachments")).to_contain_text("more.md")
    # The request carries the picture kept and the file added, not the one removed.
    sent = body_with(browser_emulator, "and with these?")["input"]
    images = [b for b in sent if b.get("type") == "image"]
    assert len(images) == 1 and base64.b64decode(images[0]["data"]) == PICTURE
    texts = " ".join(b.get("text", "") for b in sent)
    assert "[File: more.md]\n# More notes" in texts and "old notes" not in texts


def test_a_share_link_and_the_admin_show_the_version_on_screen(
    new_page, fresh_user, browser, server
):
    page = new_page(fresh_user)
    start(page, f"plan a trip {QUICK}")
    wait_for_reply(page, 1)
    send(page, f"by train? {QUICK}")
    wait_for_reply(page, 2)
    turn(page, 1).get_by_role("button", name="Edit").click()
    page.locator(f"{EDIT_FORM} textarea[name=message]").fill(f"by bike? {QUICK}")
    page.locator(EDIT_FORM).get_by_role("button", name="Send").click()
    expect(turn(page, 1).locator("[data-branch]")).to_have_text(re.compile(r"2\s*/\s*2"))
    wait_for_reply(page, 2)
    convo = re.search(r"/c/(\d+)/$", page.url).group(1)

    # Shared while the first version is on screen; the owner moves on afterwards.
    turn(page, 1).get_by_role("button", name="Previous version").click()
    expect(turn(page, 1).locator("[data-role=user]")).to_contain_text("by train?")
    page.get_by_role("button", name="Share").click()
    url = page.locator("input[name=share_url]").input_value()
    turn(page, 1).get_by_role("button", name="Next version").click()
    expect(turn(page, 1).locator("[data-role=user]")).to_contain_text("by bike?")

    stranger = browser.new_context(viewport={"width": 1280, "height": 860})
    shared = stranger.new_page()
    shared.goto(url)
    expect(shared.locator("article.turn")).to_have_count(2)
    expect(shared.locator("article.turn").nth(1)).to_contain_text("by train?")
    expect(shared.locator("[data-branch]")).to_have_text("Version 1 of 2")
    expect(shared.get_by_text("by bike?")).to_have_count(0)
    screenshot(shared, "branches-shared-desktop")
    stranger.close()

    # The admin reads the branch its owner has on screen now, and every version on demand.
    admin = new_page("admin")
    admin.goto(f"{server.url}/admin/chat/conversation/{convo}/change/")
    transcript = admin.locator(".admin-transcript")
    expect(transcript.locator("article.turn")).to_have_count(2)
    expect(transcript.locator("[data-branch]")).to_have_text("Version 2 of 2")
    expect(transcript.locator("article.turn").nth(1)).to_contain_text("by bike?")
    transcript.locator("[data-branch]").scroll_into_view_if_needed()
    screenshot(admin, "branches-admin-desktop")
    transcript.get_by_role("link", name="Show all versions").click()
    expect(transcript.locator("article.turn")).to_have_count(3)
    expect(transcript.locator("[data-branch]")).to_have_text(["Version 1 of 2", "Version 2 of 2"])
