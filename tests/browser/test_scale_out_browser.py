"""One person, two browser tabs, two daphne processes of one site (PostgreSQL + Redis), each
process with its own embedded emulator as `make run` starts it: what is sent in the tab on A
streams, live, in the tab on B, and B's Stop reaches A.

Skipped, with the reason, without PostgreSQL and Redis (see tests/cluster.py)."""

import re

import pytest
from playwright.sync_api import expect

from ..cluster import PASSWORD, services_or_skip, site
from .ui import ASSISTANT, CONVERSATION_URL, send, start, wait_for_reply

pytestmark = pytest.mark.services

services_or_skip()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    var = tmp_path_factory.mktemp("scale-browser")
    with site(var, "chatsite_scale_browser", 14, processes=2, EMULATOR_PACE_MS="20") as apps:
        yield apps


@pytest.fixture
def tab_on(browser):
    contexts = []

    def make(app, username):
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.add_init_script("document.addEventListener('htmx:wsOpen', () => window.__ws = 1)")
        page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
        page.goto(f"{app.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{app.url}/")
        return page

    yield make
    for context in contexts:
        for page in context.pages:
            assert not page.problems, page.problems
        context.close()


def a_conversation_on_both(tab_on, two_processes, username):
    a, b = two_processes
    on_a, on_b = tab_on(a, username), tab_on(b, username)
    start(on_a, "hello [emulator:words=3]")
    wait_for_reply(on_a, turns=1)
    path = re.search(r"/c/\d+/$", on_a.url).group(0)
    on_b.goto(f"{b.url}{path}")
    expect(on_b.locator("[data-turn-id]")).to_have_count(1)
    on_b.wait_for_function("() => window.__ws === 1")  # B's tab listens
    on_b.wait_for_timeout(200)  # and its process has joined it to the conversation
    return on_a, on_b


def shown(page) -> str:
    return page.locator(ASSISTANT).last.inner_text()


def test_a_reply_sent_in_a_tab_on_a_streams_live_in_a_tab_on_b(tab_on, two_processes):
    on_a, on_b = a_conversation_on_both(tab_on, two_processes, "person20")
    send(on_a, "tell me more [emulator:words=200] [emulator:pace=25]")
    expect(on_b.locator("[data-turn-id]")).to_have_count(2, timeout=10_000)
    last = on_b.locator(ASSISTANT).last
    lengths = []
    while last.get_attribute("data-status") in ("pending", "in_progress"):
        lengths.append(len(shown(on_b)))
        on_b.wait_for_timeout(100)
    growing = sorted(set(lengths))
    assert len(growing) >= 3, f"B's tab saw the reply grow while it ran: {growing}"
    expect(last).to_have_attribute("data-status", "completed")
    wait_for_reply(on_a, turns=2)
    assert "NOT_FOUND" not in on_b.content()
    assert shown(on_b).split() == shown(on_a).split()
    assert len(re.findall(r"\w+", shown(on_b))) >= 200


def test_stop_pressed_in_the_tab_on_b_stops_the_reply_running_on_a(tab_on, two_processes):
    on_a, on_b = a_conversation_on_both(tab_on, two_processes, "person21")
    send(on_a, "a very long one [emulator:words=3000] [emulator:pace=25]")
    expect(on_b.locator(".stream-text").last).not_to_be_empty(timeout=10_000)
    on_b.get_by_role("button", name="Stop").click()
    expect(on_b.locator(ASSISTANT).last).to_have_attribute("data-status", "cancelled")
    expect(on_a.locator(ASSISTANT).last).to_have_attribute("data-status", "cancelled")
    assert on_a.url.endswith(on_b.url.split("/", 3)[3])  # one conversation, two processes
    assert CONVERSATION_URL.search(on_a.url)
