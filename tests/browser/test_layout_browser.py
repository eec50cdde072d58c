"""Layout defects found by looking at the screenshots, pinned down as checks a browser can
make: where things are, what can be reached, what can be read."""

from playwright.sync_api import expect

from .ui import start, wait_for_reply

QUICK = "[emulator:pace=0]"


def luminance(rgb: str) -> float:
    """Relative luminance (WCAG) of a CSS rgb()/rgba() colour."""
    parts = [float(p) for p in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
              for c in parts]  # fmt: skip
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_a_phone_can_reach_earlier_conversations(new_page, fresh_user, server):
    page = new_page(fresh_user, width=390, height=844)
    start(page, f"the first conversation {QUICK}")
    wait_for_reply(page)
    first = page.url.replace(server.url, "")
    # On a phone the list and "New chat" live in a drawer, opened from the header.
    page.get_by_role("button", name="Conversations").click()
    page.get_by_role("link", name="New chat").click()
    start(page, f"the second conversation {QUICK}")
    wait_for_reply(page)

    page.get_by_role("button", name="Conversations").click()
    expect(page.locator(f"#sidebar a[href='{first}']")).to_be_visible()


def test_a_desktop_lists_earlier_conversations_in_the_sidebar(new_page, fresh_user, server):
    page = new_page(fresh_user)
    start(page, f"the first conversation {QUICK}")
    wait_for_reply(page)
    first = page.url.replace(server.url, "")
    page.get_by_role("link", name="New chat").click()
    start(page, f"the second conversation {QUICK}")
    wait_for_reply(page)
    expect(page.locator(f".conversation-list a[href='{first}']")).to_be_visible()


def admin_transcript(new_page, fresh_user, server):
    page = new_page(fresh_user)
    start(page, f"for the admin {QUICK}")
    wait_for_reply(page)
    pk = page.url.rstrip("/").rsplit("/", 1)[1]
    admin = new_page("admin")
    admin.goto(f"{server.url}/admin/chat/conversation/{pk}/change/")
    expect(admin.locator(".admin-transcript")).to_contain_text("for the admin")
    return admin


def test_admin_transcript_keeps_the_admin_navigation_beside_the_content(
    new_page, fresh_user, server
):
    admin = admin_transcript(new_page, fresh_user, server)
    nav = admin.locator("#nav-sidebar").bounding_box()
    content = admin.locator("#content").bounding_box()
    assert nav["x"] + nav["width"] <= content["x"] + 1, (nav, content)


def test_admin_transcript_page_keeps_the_site_name_readable(new_page, fresh_user, server):
    admin = admin_transcript(new_page, fresh_user, server)
    name = admin.evaluate("getComputedStyle(document.querySelector('#site-name a')).color")
    header = admin.evaluate("getComputedStyle(document.getElementById('header')).backgroundColor")
    assert contrast(name, header) >= 3, (name, header, contrast(name, header))
