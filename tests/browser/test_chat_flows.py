"""What a person does in the browser: sign in, chat, watch it stream, reload, stop, follow up."""

import re
import time

from playwright.sync_api import expect

from .conftest import PASSWORD, screenshot

ASSISTANT = "[data-role=assistant]"


def send(page, text):
    page.fill("#composer textarea[name=message]", text)
    page.keyboard.press("Enter")


def test_sign_up_then_chat(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/accounts/signup/")
    screenshot(page, "signup-desktop")
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    expect(page.locator("form#composer textarea[name=message]")).to_be_visible()
    context.close()


def test_reply_streams_visibly_completes_and_survives_a_reload(new_page, server):
    page = new_page()
    screenshot(page, "home-desktop")
    send(page, "hello [emulator:pace=60]")  # ~6 s of reply: time to see it grow on a busy machine
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("[data-role=user]").last).to_contain_text("hello")
    live = page.locator(".stream-text").last
    expect(live).not_to_be_empty()
    lengths = []
    for _ in range(6):
        lengths.append(len(live.inner_text()))
        time.sleep(0.15)
    assert lengths[-1] > lengths[0], f"the reply should grow over time: {lengths}"
    screenshot(page, "streaming-desktop")
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=20_000
    )
    final = page.locator(ASSISTANT).last.inner_text()
    assert "hello" in final
    screenshot(page, "conversation-desktop")
    page.reload()
    expect(page.locator(ASSISTANT).last).to_have_attribute("data-status", "completed")
    assert page.locator(ASSISTANT).last.inner_text() == final


def test_reload_mid_stream_shows_text_so_far_then_the_rest(new_page):
    page = new_page()
    # 12 s of reply: the reload lands mid-stream however busy the machine is (at the default
    # pace a loaded CI machine once finished the reply before the reload did).
    send(page, "a longer one [emulator:words=300] [emulator:pace=40]")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(".stream-text").last).not_to_be_empty()
    time.sleep(0.6)
    page.reload()
    # The text so far, drawn by the server, whether or not the rest has come yet.
    answer = page.locator(f"{ASSISTANT} [data-step-type=model_output]").last
    expect(answer).not_to_be_empty(timeout=5000)
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=40_000
    )
    assert len(answer.inner_text().split()) == 300


def test_stop_ends_the_reply_and_keeps_what_was_written(new_page):
    page = new_page()
    send(page, "go on and on [emulator:words=2000]")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(".stream-text").last).not_to_be_empty()
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(ASSISTANT).last).to_have_attribute("data-status", "cancelled", timeout=5000)
    expect(page.locator(".turn-meta").last).to_contain_text("Stopped")
    assert 0 < len(page.locator(ASSISTANT).last.inner_text().split()) < 2000
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_a_follow_up_depends_on_the_first_answer(new_page):
    page = new_page()
    send(page, "my project is called Heron")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=20_000
    )
    send(page, "what is it called?")
    expect(page.locator("[data-turn-id]")).to_have_count(2)
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=20_000
    )
    expect(page.locator(ASSISTANT).last).to_contain_text("my project is called Heron")


def test_second_tab_sees_the_same_stream(new_page):
    first = new_page()
    send(first, "for two tabs [emulator:words=120]")
    first.wait_for_url(re.compile(r"/c/\d+/$"))
    second = first.context.new_page()
    second.problems = []
    second.goto(first.url)
    expect(second.locator(".stream-text").last).not_to_be_empty(timeout=5000)
    for page in (first, second):
        expect(page.locator(ASSISTANT).last).to_have_attribute(
            "data-status", "completed", timeout=20_000
        )
    assert first.locator(ASSISTANT).last.inner_text() == second.locator(ASSISTANT).last.inner_text()


def test_another_user_cannot_open_the_conversation(new_page, server):
    owner = new_page("ada")
    send(owner, "private")
    owner.wait_for_url(re.compile(r"/c/\d+/$"))
    other = new_page("mallory")
    response = other.goto(owner.url)
    assert response.status == 404
    ws_path = owner.url.replace(server.url, "").replace("/c/", "/ws/c/")
    refused = other.evaluate(
        """(path) => new Promise((resolve) => {
            const ws = new WebSocket(location.origin.replace('http', 'ws') + path);
            ws.onopen = () => resolve('open');
            ws.onclose = (e) => resolve('closed');
        })""",
        ws_path,
    )
    assert refused == "closed"


def test_keyboard_enter_sends_shift_enter_adds_a_line(new_page):
    page = new_page()
    box = page.locator("#composer textarea[name=message]")
    box.fill("line one")
    box.press("Shift+Enter")
    box.type("line two")
    assert box.input_value() == "line one\nline two"
    box.press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("[data-role=user]").last).to_contain_text("line one\nline two")


def test_phone_width_screenshots(new_page):
    page = new_page(width=390, height=844)
    screenshot(page, "home-phone")
    send(page, "hello from a phone")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=20_000
    )
    screenshot(page, "conversation-phone")


def test_admin_reads_a_transcript(new_page, server):
    page = new_page("ada")
    send(page, "for the admin to read")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=20_000
    )
    pk = page.url.rstrip("/").rsplit("/", 1)[1]
    admin = new_page("admin")
    admin.goto(f"{server.url}/admin/chat/conversation/{pk}/change/")
    expect(admin.locator(".admin-transcript")).to_contain_text("for the admin to read")
    screenshot(admin, "admin-transcript-desktop")
