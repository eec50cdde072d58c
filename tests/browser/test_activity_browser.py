"""The activity timeline in a real browser: a deep-research run from the emulator shows its
thoughts and searches as one block, open while it works and closed once the report starts;
each step inside opens on its own; a reload shows the same block. Screenshots:
test-artifacts/activity-*.png."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import screenshot
from .ui import assistant, block_seen_from_its_start, record_appended_steps, start, step

AGENT = "deep-research-pro-preview-12-2025"
# Slow enough that the run's steps arrive one by one, as from the real agent.
SLOW = "[emulator:pace=8]"
LIVE_DONE = re.compile(r"^Researched · 3 searches · (\d+ m )?\d+ s$")

# What the last reply looked like each time its steps changed: the activity blocks (open?
# label) and whether the answer had started. Recorded in the page, so no state is missed
# however busy the machine is.
RECORDER = """
window.__shapes = [];
new MutationObserver(function () {
  const parts = document.querySelectorAll("[data-role=assistant]");
  const part = parts[parts.length - 1];
  if (!part) return;
  const shape = {
    blocks: [...part.querySelectorAll("details[data-activity]")].map(b => ({
      open: b.open, label: b.querySelector(".activity-label").textContent,
      steps: b.querySelectorAll(".activity-steps > [data-step-type]").length,
    })),
    loose: part.querySelectorAll(
      ".steps > :not([data-step-type=model_output], [data-step-type=google_search_result]," +
      " [data-activity])").length,
    kept: [...part.querySelectorAll(".steps > [data-step-type=google_search_result]")]
      .filter(el => el.querySelector("iframe.search-suggestions")).length,
    answer: part.querySelectorAll("[data-step-type=model_output]").length,
  };
  const key = JSON.stringify(shape);
  if (window.__lastShape !== key) { window.__lastShape = key; window.__shapes.push(shape); }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


@pytest.fixture
def research(new_page, fresh_user, browser_emulator):
    """A finished deep-research reply, watched live from the first step."""
    page = new_page(fresh_user)
    page.evaluate(RECORDER)
    record_appended_steps(page)
    page.select_option("#composer select[name=model]", AGENT)
    start(page, f"the history of tea {SLOW}")
    expect(assistant(page)).to_have_attribute("data-status", "completed", timeout=90_000)
    return page


def activity(page):
    return assistant(page).locator("details[data-activity]")


def test_research_steps_gather_in_one_block_open_while_working(research):
    shapes = research.evaluate("window.__shapes")
    working = [s for s in shapes if not s["answer"] and s["blocks"]]
    assert working, shapes
    # Every step so far, in one open block saying what it is doing; none left outside.
    assert all(len(s["blocks"]) == 1 and s["blocks"][0]["open"] for s in working), working
    assert all(s["loose"] == 0 for s in shapes), shapes
    assert any(s["blocks"][0]["label"].startswith("Researching · ") for s in working), working
    assert max(s["blocks"][0]["steps"] for s in working) == 12  # 6 thoughts, 3 search pairs
    assert all(s["kept"] == 0 for s in working), working  # all inside while it works


def test_the_block_closes_when_the_report_starts_and_says_how_long_it_took(research):
    shapes = research.evaluate("window.__shapes")
    answering = [s for s in shapes if s["answer"]]
    assert answering and all(
        len(s["blocks"]) == 1 and not s["blocks"][0]["open"] for s in answering
    ), answering
    assert answering[-1]["kept"] == 3, answering[-1]
    block = activity(research)
    expect(block).to_have_count(1)
    expect(block).not_to_have_attribute("open", "")
    if block_seen_from_its_start(research, block):
        expect(block.locator(".activity-label")).to_have_text(LIVE_DONE)
        expect(block.locator("[data-step-type=thought] .thought-label").first).to_have_text(
            re.compile(r"^Thought for (\d+ m )?\d+ s$")
        )
    else:  # the socket opened after the run began: no duration is made up
        expect(block.locator(".activity-label")).to_have_text("Researched · 3 searches")
    # Google's search suggestions stay in sight after the block, as their terms ask.
    frames = assistant(research).locator("iframe.search-suggestions")
    expect(frames).to_have_count(3)
    for n in range(3):
        expect(frames.nth(n)).to_be_visible()
    report = step(research, "model_output")
    expect(report).to_be_visible()
    expect(report.locator("a[data-citation]").first).to_be_visible()


def test_each_step_inside_is_one_click_away(research):
    block = activity(research)
    block.locator(":scope > summary").click()
    expect(block).to_have_attribute("open", "")
    thought = block.locator("[data-step-type=thought]").first
    expect(thought).to_be_visible()
    expect(thought.locator(".thought-body")).to_be_hidden()
    thought.locator("summary").click()
    expect(thought.locator(".thought-body")).to_be_visible()
    search = block.locator("[data-step-type=google_search_call]").first
    search.locator("summary").click()
    expect(search).to_have_attribute("open", "")
    expect(search.locator(".chip").first).to_be_visible()


def test_a_reload_shows_the_same_block_without_the_times_it_cannot_know(research):
    inner = activity(research).locator(".activity-steps > [data-step-type]")
    live_types = inner.evaluate_all("els => els.map(e => e.dataset.stepType)")
    live_ids = inner.evaluate_all("els => els.map(e => e.id)")
    research.reload()
    block = activity(research)
    expect(block).to_have_count(1)
    expect(block).not_to_have_attribute("open", "")
    expect(block.locator(".activity-label")).to_have_text("Researched · 3 searches")
    reloaded = block.locator(".activity-steps > [data-step-type]")
    assert reloaded.evaluate_all("els => els.map(e => e.dataset.stepType)") == live_types
    assert reloaded.evaluate_all("els => els.map(e => e.id)") == live_ids
    expect(step(research, "model_output")).to_have_count(1)


def test_screenshots_of_the_timeline_and_report_headings(research):
    block = activity(research)
    block.locator(":scope > summary").click()
    block.locator("[data-step-type=thought] summary").first.click()
    title = research.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#conversation-title')).fontSize)"
    )
    sizes = step(research, "model_output").evaluate(
        "el => [...el.querySelectorAll('h1,h2,h3,h4,h5,h6')]"
        ".map(h => parseFloat(getComputedStyle(h).fontSize))"
    )
    assert sizes and max(sizes) <= title, (sizes, title)  # never larger than the page's title
    for width in (1280, 390):
        for scheme in ("light", "dark"):
            research.set_viewport_size({"width": width, "height": 860})
            research.emulate_media(color_scheme=scheme)
            block.scroll_into_view_if_needed()
            screenshot(research, f"activity-open-{width}-{scheme}")
            step(research, "model_output").locator(".md h2").nth(1).scroll_into_view_if_needed()
            screenshot(research, f"activity-report-{width}-{scheme}")


def test_a_reload_mid_run_shows_the_block_open_and_later_steps_join_it(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    page.select_option("#composer select[name=model]", AGENT)
    # Slower still, so the reload lands before the report (as in test_background.py).
    start(page, "the history of coffee [emulator:pace=20]")
    expect(step(page, "google_search_call").first).to_be_attached(timeout=15_000)
    page.reload()
    page.evaluate(RECORDER)
    assert step(page, "model_output").count() == 0, "the report had started: reload sooner"
    block = activity(page)
    expect(block).to_have_count(1)
    expect(block).to_have_attribute("open", "")
    expect(block.locator(".activity-label")).to_have_text(re.compile(r"^Researching · "))

    expect(assistant(page)).to_have_attribute("data-status", "completed", timeout=90_000)
    shapes = page.evaluate("window.__shapes")
    assert shapes and all(len(s["blocks"]) == 1 and s["loose"] == 0 for s in shapes), shapes
    expect(block).not_to_have_attribute("open", "")
    expect(block.locator(".activity-steps > [data-step-type]")).to_have_count(9)  # 3 kept out
    # Not seen from its start, so no duration: it would be a guess.
    expect(block.locator(".activity-label")).to_have_text("Researched · 3 searches")
