"""The admin as an admin sees it: a transcript that looks like the chat (headings, code, math,
an agent run) and the usage page, light and dark. Screenshots: test-artifacts/admin-*.png."""

import pytest
from playwright.sync_api import expect

from ..servers import manage
from .conftest import ARTIFACTS

SCHEMES = ["light", "dark"]


@pytest.fixture(scope="module")
def seeded(server):
    """grace's agent report and two weeks of turns for grace and linus, in the app's database."""
    out = manage(server.env, "shell", "-c", "from tests.browser.admin_seed import seed; seed()")
    return int(out.strip().splitlines()[-1])


def admin_page(new_page, scheme):
    page = new_page("admin", width=1280, height=900)
    page.emulate_media(color_scheme=scheme)
    return page


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_transcript_headings_look_as_in_the_chat_not_as_admin_captions(
    new_page, server, seeded, scheme
):
    page = admin_page(new_page, scheme)
    page.goto(f"{server.url}/admin/chat/conversation/{seeded}/change/")
    transcript = page.locator(".admin-transcript")
    expect(transcript).to_contain_text("Green tea: a research report")
    for card in transcript.locator("details").all():
        card.locator("summary").first.click()
    shot(page, f"admin-transcript-{scheme}")

    heading = transcript.locator(".md h2").first
    styles = heading.evaluate(
        "el => { const s = getComputedStyle(el); return {bg: s.backgroundColor,"
        " size: parseFloat(s.fontSize), transform: s.textTransform} }"
    )
    body = transcript.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert styles["bg"] in ("rgba(0, 0, 0, 0)", "transparent"), styles  # no caption bar
    assert styles["transform"] == "none", styles
    page_title = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)"
    )
    sizes = transcript.evaluate(
        "el => [...el.querySelectorAll('.md h1, .md h2, .md h3')]"
        ".map(h => parseFloat(getComputedStyle(h).fontSize))"
    )
    assert sizes and max(sizes) <= page_title, (sizes, page_title)
    assert styles["size"] > body  # still a heading
    paragraph = transcript.locator("[data-step-type=model_output] .md p").first.bounding_box()
    assert paragraph["x"] - transcript.bounding_box()["x"] < 40  # no admin form indent
    expect(transcript.locator(".md pre code")).to_contain_text("def brew")
    expect(transcript.locator(".md math").first).to_be_visible()  # MathML, not its source


@pytest.mark.parametrize("scheme", SCHEMES)
def test_usage_page_shows_bars_per_day_models_and_top_people(new_page, server, seeded, scheme):
    page = admin_page(new_page, scheme)
    page.goto(f"{server.url}/admin/chat/conversation/usage/?days=14")
    tokens = page.locator("[data-chart=total] .usage-bar rect:first-child")
    expect(tokens).to_have_count(14)
    heights = [float(h) for h in tokens.evaluate_all("rs => rs.map(r => r.getAttribute('height'))")]
    assert all(h > 0 for h in heights) and len(set(heights)) > 3  # a bar each day, not flat
    first_bar = tokens.first.evaluate("r => r.getBoundingClientRect().height")
    assert first_bar > 5  # drawn, not collapsed
    expect(page.locator("#usage-people [data-user=grace]")).to_be_visible()
    expect(page.locator("#usage-models")).to_contain_text("gemini-3-flash-preview")
    expect(page.locator("[data-total-cost]")).to_contain_text("$")
    shot(page, f"admin-usage-{scheme}")
    page.locator("#usage-people [data-user=grace] a").click()
    expect(page.locator(".usage-summary")).to_contain_text("grace")
    shot(page, f"admin-usage-person-{scheme}")


def test_a_reviewer_flags_and_marks_a_conversation_reviewed_in_the_page(new_page, server, seeded):
    page = admin_page(new_page, "light")
    page.goto(f"{server.url}/admin/chat/conversation/{seeded}/change/")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator("[data-reviewed]")).to_contain_text("Reviewed by admin")
    page.fill("#review input[name=reason]", "Asks for medical advice")
    page.get_by_role("button", name="Flag", exact=True).click()
    expect(page.locator("[data-flagged]")).to_contain_text("Asks for medical advice")
    page.fill("#review-notes", "Checked with the team.")
    page.get_by_role("button", name="Save notes").click()
    expect(page.locator("#review-notes")).to_have_value("Checked with the team.")
    shot(page, "admin-review-panel")
    page.goto(f"{server.url}/admin/chat/conversation/?flagged=yes")
    expect(page.locator("#result_list")).to_contain_text("Green tea report")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_transcript_shows_the_agent_run_as_one_closed_activity_block(
    new_page, server, seeded, scheme
):
    for width in (1280, 390):
        page = new_page("admin", width=width, height=900)
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{server.url}/admin/chat/conversation/{seeded}/change/")
        transcript = page.locator(".admin-transcript")
        block = transcript.locator("details[data-activity]")
        expect(block).to_have_count(1)
        expect(block).not_to_have_attribute("open", "")
        expect(block.locator(".activity-label")).to_have_text("Researched · 1 search")
        # The admin's summary and list styles stay out of it: the chat's own look.
        label = block.locator(".activity-label").evaluate(
            "el => { const s = getComputedStyle(el); return {size: parseFloat(s.fontSize),"
            " transform: s.textTransform, bg: getComputedStyle(el.parentElement).backgroundColor} }"
        )
        assert label["transform"] == "none" and label["size"] <= 15, label
        assert label["bg"] in ("rgba(0, 0, 0, 0)", "transparent"), label
        block.locator(":scope > summary").click()
        expect(block.locator("[data-step-type=google_search_call]")).to_be_visible()
        block.locator("[data-step-type=thought] summary").first.click()
        page.locator(".admin-transcript").evaluate("el => el.scrollIntoView()")
        shot(page, f"admin-activity-{width}-{scheme}")
        box = transcript.bounding_box()
        assert box["x"] + box["width"] <= width + 1, (box, width)  # no sideways scroll
