"""Background runs in a real browser: the deep-research agent shows queued, then working with
a live clock and its steps as they come, through a reload, to a long report; a run sent "In
background" stops with Stop, upstream too."""

import re
import time

from playwright.sync_api import expect

from .conftest import screenshot
from .ui import (
    ASSISTANT,
    STATUS_RECORDER,
    assistant,
    body_with,
    interaction_with,
    start,
    step,
    wait_for_reply,
)

AGENT = "deep-research-pro-preview-12-2025"
WORKING = re.compile(r"^Working · 0:\d\d$")
# The order a run's statuses may be shown in; a fast run may skip the brief ones (queued).
ORDER = ["pending", "queued", "in_progress", "completed"]
# Slower than the emulator's default agent pace, so the reload below lands between the first
# search and the report with ~10 s to spare even on a loaded 2-core machine.
SLOW = "[emulator:pace=20]"


def record_statuses(page) -> None:
    """Note every status of every assistant part, on this document and after each reload."""
    page.add_init_script(STATUS_RECORDER)
    page.evaluate(STATUS_RECORDER)


def statuses(page, part_id: str) -> list[str]:
    return [s for pid, s, _ in page.evaluate("window.__statuses") if pid == part_id]


def test_deep_research_shows_live_progress_through_a_reload_and_reports(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    record_statuses(page)
    page.select_option("#composer select[name=model]", AGENT)
    start(page, f"the history of tea {SLOW}")
    part = assistant(page)
    part_id = part.get_attribute("id")

    elapsed = part.locator(".elapsed")
    expect(elapsed).to_have_text(WORKING, timeout=5000)
    expect(step(page, "google_search_call").first).to_be_attached(timeout=10_000)
    expect(part).to_have_attribute("data-status", "in_progress")
    seen = statuses(page, part_id)
    assert "in_progress" in seen and set(seen) <= set(ORDER), seen
    assert [ORDER.index(s) for s in seen] == sorted(ORDER.index(s) for s in seen), seen
    assert body_with(browser_emulator, "the history of tea")["background"] is True
    screenshot(page, "background-working-desktop")

    # A reload mid-run: the steps so far come back, and the run keeps going on the page.
    page.reload()
    part = assistant(page)
    expect(part).to_have_attribute("data-status", "in_progress")
    expect(step(page, "google_search_call").first).to_be_attached()
    assert step(page, "model_output").count() == 0, "the report had started: reload sooner"
    elapsed = part.locator(".elapsed")
    expect(elapsed).to_have_text(WORKING)
    shown = elapsed.inner_text()
    expect(elapsed).not_to_have_text(shown, timeout=3000)  # the clock ticks
    expect(step(page, "model_output")).to_have_count(1, timeout=15_000)  # new steps arrive live
    assert statuses(page, part_id)[0] == "in_progress", "the reloaded page shows it working"

    wait_for_reply(page)
    report = step(page, "model_output")
    assert len(report.inner_text().split()) > 300, "a long report"
    expect(report.locator("a[data-citation]").first).to_be_visible()
    expect(part.locator(".elapsed")).to_have_count(0)  # the clock goes when it is done
    assert statuses(page, part_id)[-1] == "completed"
    assert interaction_with(browser_emulator, "the history of tea").status == "completed"
    screenshot(page, "background-report-desktop")


def test_in_background_run_stops_with_stop_upstream_too(new_page, fresh_user, browser_emulator):
    page = new_page(fresh_user)
    page.check("#composer input[name=background]")
    start(page, "a long background job [emulator:words=2000]")
    part = assistant(page)
    expect(part).to_have_attribute("data-status", "in_progress", timeout=5000)
    expect(part.locator(".stream-text")).not_to_be_empty()
    expect(part.locator(".elapsed")).to_have_text(WORKING)
    assert body_with(browser_emulator, "a long background job")["background"] is True

    page.get_by_role("button", name="Stop").click()
    expect(part).to_have_attribute("data-status", "cancelled", timeout=5000)
    expect(page.locator(f"{ASSISTANT} .turn-meta").last).to_contain_text("Stopped")
    words = len(step(page, "model_output").inner_text().split())
    assert 0 < words < 2000, words
    expect(page.get_by_role("button", name="Send")).to_be_visible()

    record = interaction_with(browser_emulator, "a long background job")
    deadline = time.monotonic() + 5
    while record.status != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert record.status == "cancelled", "the upstream run was not cancelled"
    page.reload()
    expect(assistant(page)).to_have_attribute("data-status", "cancelled")
