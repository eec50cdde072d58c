"""Versions in the browser: edit a message, regenerate an answer, move between versions; a
reload and a second tab show the same branch."""

import re

from playwright.sync_api import expect

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
    expect(page.locator(".regenerate-with .menu")).to_be_visible()
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
    screenshot(page, "branches-mobile-dark")
    # Nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(".regenerate-with > summary").click()
    screenshot(page, "branches-menu-mobile-dark")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.emulate_media(color_scheme="light")
    page.get_by_role("button", name="Edit").click()
    screenshot(page, "branches-editing-mobile")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
