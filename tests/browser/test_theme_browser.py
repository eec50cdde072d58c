"""The theme: <html data-theme="light|dark|system"> picks the colours (system follows the
device), and the sidebar's toggle cycles system → light → dark, applied at once without a
reload and saved on the account."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import screenshot

TOGGLE = re.compile(r"^Theme: ")
LIGHT_BG, DARK_BG = "rgb(247, 247, 248)", "rgb(22, 23, 27)"  # --bg in theme.css


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def set_theme(page, theme: str) -> None:
    page.evaluate("(t) => { document.documentElement.dataset.theme = t; }", theme)


@pytest.mark.parametrize(
    ("device", "theme", "expected"),
    [("light", "dark", DARK_BG), ("dark", "light", LIGHT_BG),
     ("dark", "system", DARK_BG), ("light", "system", LIGHT_BG)],
)  # fmt: skip
def test_data_theme_wins_over_the_device_and_system_follows_it(
    new_page, fresh_user, device, theme, expected
):
    page = new_page(fresh_user, color_scheme=device)
    set_theme(page, theme)
    expect(page.locator("body")).to_have_css("background-color", expected)
    # The sidebar, the composer and the header follow too (they are drawn from the same list).
    sidebar = page.evaluate("getComputedStyle(document.getElementById('sidebar')).color")
    assert (sidebar == "rgb(29, 31, 36)") == (expected == LIGHT_BG), sidebar


def test_the_toggle_cycles_the_theme_at_once_and_saves_it(new_page, fresh_user, server):
    page = new_page(fresh_user, color_scheme="light")
    toggle = page.get_by_role("button", name=TOGGLE)
    expect(toggle).to_have_accessible_name("Theme: System")
    page.evaluate("window.__samePage = true")

    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(toggle).to_have_accessible_name("Theme: Light")
    expect(page.locator("body")).to_have_css("background-color", LIGHT_BG)

    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_accessible_name("Theme: Dark")
    expect(page.locator("body")).to_have_css("background-color", DARK_BG)
    assert page.evaluate("window.__samePage === true"), "the page reloaded"
    screenshot(page, "theme-dark-by-toggle")

    # Saved on the account: a new page (another tab) shows it.
    other = page.context.new_page()
    other.goto(f"{server.url}/c/")
    expect(other.get_by_role("button", name=TOGGLE)).to_have_accessible_name("Theme: Dark")
    other.close()

    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    expect(toggle).to_have_accessible_name("Theme: System")
    expect(page.locator("body")).to_have_css("background-color", LIGHT_BG)


def test_the_toggle_works_without_javascript(browser, server, fresh_user):
    from ..servers import PASSWORD

    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/")
    page.fill("input[name=username]", fresh_user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{server.url}/c/")
    page.get_by_role("button", name="Theme: System").click()
    page.wait_for_url(f"{server.url}/c/")
    expect(page.get_by_role("button", name=TOGGLE)).to_have_accessible_name("Theme: Light")
    context.close()


SIZES = [("desktop", 1280, 860), ("phone", 390, 844)]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(("label", "width", "height"), SIZES, ids=[s[0] for s in SIZES])
def test_screenshots_of_the_pages_in_both_themes(
    new_page, fresh_user, server, theme, label, width, height
):
    """test-artifacts/theme-<page>-<desktop|phone>-<light|dark>.png, for a person to look at."""
    page = new_page(fresh_user, width=width, height=height, color_scheme=theme)
    expect(page.locator(".empty-state")).to_be_visible()
    screenshot(page, f"theme-home-{label}-{theme}")
    page.fill("#composer textarea[name=message]", "How is green tea made? [emulator:pace=0]")
    page.locator("#composer textarea[name=message]").press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("[data-role=assistant]").last).to_have_attribute(
        "data-status", "completed", timeout=20_000
    )
    page.get_by_role("button", name="Pin").click()
    expect(page.get_by_role("button", name="Unpin")).to_be_visible()
    screenshot(page, f"theme-conversation-{label}-{theme}")
    if label == "phone":
        page.get_by_role("button", name="Conversations").click()
    page.get_by_role("link", name="Skip to composer").focus()
    page.wait_for_timeout(250)  # the drawer's slide, for the picture only
    screenshot(page, f"theme-drawer-{label}-{theme}")
    for name, path in (("list", "/c/"), ("settings", "/accounts/settings/")):
        page.goto(f"{server.url}{path}")
        expect(page.locator("h1")).to_be_visible()
        screenshot(page, f"theme-{name}-{label}-{theme}")
