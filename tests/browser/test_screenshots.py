"""Screenshots of the main pages at desktop (1280 px) and phone (390 px) widths, for people to
look at: test-artifacts/pages-<page>-<desktop|phone>.png. Each also checks that the page is
the one it claims to be, so a broken page fails here rather than in a picture."""

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, screenshot
from .ui import (
    ASSISTANT,
    choose,
    into_view,
    open_settings,
    reveal,
    send,
    start,
    step,
    wait_for_reply,
)

WIDTHS = [("desktop", 1280, 860), ("phone", 390, 844)]


def full_page(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(("label", "width", "height"), WIDTHS, ids=[w[0] for w in WIDTHS])
def test_screenshots_of_sign_in_and_sign_up(new_page, server, label, width, height):
    page = new_page(user=None, width=width, height=height)
    page.goto(f"{server.url}/accounts/login/")
    expect(page.locator("input[name=username]")).to_be_visible()
    screenshot(page, f"pages-signin-{label}")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator("input[name=password]")).to_be_visible()
    screenshot(page, f"pages-signin-error-{label}")

    page.goto(f"{server.url}/accounts/signup/")
    expect(page.locator("input[name=password2]")).to_be_visible()
    screenshot(page, f"pages-signup-{label}")


@pytest.mark.parametrize(("label", "width", "height"), WIDTHS, ids=[w[0] for w in WIDTHS])
def test_screenshots_of_a_conversation_and_the_pages_around_it(
    new_page, fresh_user, server, label, width, height
):
    page = new_page(fresh_user, width=width, height=height)
    expect(page.locator(".empty-state")).to_be_visible()
    screenshot(page, f"pages-home-{label}")

    # A conversation of a few turns: search with citations and code, then maps, then an image.
    choose(page, tools=["google_search", "code_execution"], thinking_level="high")
    start(page, "How is green tea made?")
    wait_for_reply(page, turns=1)
    page.reload()  # the page as the server renders it, with the settings saved
    choose(page, tools=["google_maps"])
    page.uncheck("#composer input[name=tools][value=code_execution]")
    send(page, "Where can I drink it near Paris?")
    wait_for_reply(page, turns=2)
    page.reload()
    open_settings(page)
    for tool in ("google_search", "google_maps"):
        page.uncheck(f"#composer input[name=tools][value={tool}]")
    page.select_option("#composer [name=thinking_level]", "")
    page.select_option("#composer select[name=model]", "gemini-3.1-flash-image")
    send(page, "Draw a teapot, please.")
    wait_for_reply(page, turns=3)
    page.get_by_role("button", name="Settings").click()  # close the panel again
    expect(page.locator("fieldset#composer-settings")).to_be_hidden()
    expect(page.locator(f"{ASSISTANT} img").last).to_be_visible()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#transcript img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    screenshot(page, f"pages-conversation-{label}")

    into_view(page.locator("[data-turn-id]").first)
    screenshot(page, f"pages-conversation-top-{label}")
    into_view(page.locator("[data-step-type=google_search_result]").first)
    screenshot(page, f"pages-conversation-search-{label}")
    into_view(page.locator("[data-turn-id]").nth(1).locator("[data-step-type=model_output]"))
    screenshot(page, f"pages-conversation-citations-{label}")
    cards = page.locator("[data-turn-id]").first.locator("details.step-card")
    for n in range(cards.count()):
        reveal(cards.nth(n))  # the activity block it sits in, first
        if cards.nth(n).get_attribute("open") is None:
            cards.nth(n).locator("summary").first.click()
    into_view(step(page, "model_output").first)
    into_view(page.locator("[data-step-type=code_execution_call]").first)
    screenshot(page, f"pages-conversation-cards-open-{label}")

    page.reload()
    open_settings(page)
    page.locator("fieldset#composer-settings").evaluate("el => el.scrollIntoView()")
    screenshot(page, f"pages-settings-{label}")
    page.locator("#composer textarea[name=message]").focus()
    page.evaluate("document.getElementById('composer').scrollIntoView({block: 'end'})")
    screenshot(page, f"pages-settings-bottom-{label}")
    conversation_url = page.url

    page.goto(f"{server.url}/c/")
    expect(page.locator(".conversation-table li")).to_have_count(1)
    expect(page.locator(".conversation-table a")).to_have_attribute(
        "href", conversation_url.replace(server.url, "")
    )
    screenshot(page, f"pages-conversation-list-{label}")

    pk = conversation_url.rstrip("/").rsplit("/", 1)[1]
    admin = new_page("admin", width=width, height=height)
    admin.goto(f"{server.url}/admin/chat/conversation/")
    expect(admin.locator("#result_list")).to_be_visible()
    screenshot(admin, f"pages-admin-conversations-{label}")
    admin.goto(f"{server.url}/admin/chat/conversation/{pk}/change/")
    expect(admin.locator(".admin-transcript")).to_contain_text("Draw a teapot, please.")
    cards = admin.locator(".admin-transcript [data-step-type=google_search_call]")
    expect(cards).not_to_have_count(0)
    admin.locator(".admin-transcript").evaluate("el => el.scrollIntoView()")
    screenshot(admin, f"pages-admin-transcript-{label}")
    full_page(admin, f"pages-admin-transcript-full-{label}")


SCHEMES = [("light"), ("dark")]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(("label", "width", "height"), WIDTHS, ids=[w[0] for w in WIDTHS])
def test_screenshots_of_the_composer_settings_and_its_notes(
    new_page, fresh_user, label, width, height, scheme
):
    """test-artifacts/composer-<state>-<desktop|phone>-<light|dark>.png: chips and Advanced
    open, a retry under a turn, an error beside a field, the offline note."""
    page = new_page(fresh_user, width=width, height=height)
    page.emulate_media(color_scheme=scheme)
    name = f"{label}-{scheme}"
    choose(page, tools=["google_search", "code_execution"], thinking_level="high")
    choose(page, response_schema='{"type": "object"}')
    page.locator("#composer [name=file_search_stores]").focus()
    expect(page.locator("#composer details.advanced")).to_have_attribute("open", "")
    expect(page.locator("#composer [data-settings-summary] .chip")).to_have_count(4)
    screenshot(page, f"composer-advanced-open-{name}")

    page.get_by_role("button", name="Settings").click()  # closed again
    start(page, f"busy {name} [emulator:fail=503x2] [emulator:retry_after=3] [emulator:pace=0]")
    expect(page.locator("[data-retry-note]")).to_be_visible(timeout=10_000)
    screenshot(page, f"composer-retry-note-{name}")
    wait_for_reply(page, turns=1)

    choose(page, response_schema="{not json")
    page.locator("#composer [name=response_schema]").blur()
    error = page.locator("#error-response_schema")
    expect(error).not_to_be_empty()
    error.scroll_into_view_if_needed()
    screenshot(page, f"composer-error-beside-field-{name}")
    page.get_by_role("button", name="Settings").click()

    page.context.set_offline(True)
    send(page, "sent from a tunnel [emulator:pace=0]")
    expect(page.locator("[data-offline-note]")).to_be_visible()
    screenshot(page, f"composer-offline-note-{name}")
    page.context.set_offline(False)
    expect(page.locator("[data-offline-note]")).to_be_hidden()
