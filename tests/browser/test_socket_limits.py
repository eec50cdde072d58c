"""What a person sees when a reply is larger than one websocket message (issue 10, item 8)."""

import re

from playwright.sync_api import expect

ASSISTANT = "[data-role=assistant]"
HUGE = (
    "all of it [emulator:words=200000] [emulator:delta_words=4000] "
    "[emulator:hop_words=200000] [emulator:pace=0]"
)


def test_a_reply_larger_than_a_socket_message_is_shown_whole(new_page, fresh_user):
    page = new_page(fresh_user)
    page.fill("#composer textarea[name=message]", "hello")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=30_000
    )
    page.fill("#composer textarea[name=message]", HUGE)
    page.keyboard.press("Enter")
    expect(page.locator(ASSISTANT)).to_have_count(2)
    last = page.locator(ASSISTANT).last
    expect(last).to_have_attribute("data-status", "completed", timeout=90_000)
    # The finished step (over 1 MiB of HTML) came as a "load it" frame: the whole turn is there,
    # once, with its final form and not the streaming one.
    expect(last.locator('[data-step-type="model_output"]')).to_have_count(1, timeout=30_000)
    expect(last.locator(".stream-text")).to_have_count(0, timeout=30_000)
    page.wait_for_function(
        "document.querySelector('[data-role=assistant]:last-of-type') &&"
        " [...document.querySelectorAll('[data-role=assistant]')].pop().innerText.length > 1000000",
        timeout=30_000,
    )
    ids = page.eval_on_selector_all("[data-turn-id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids)) == 2


def test_a_socket_closed_for_falling_behind_reconnects_and_resumes(new_page, fresh_user):
    """The server closes a tab's socket with 4408 when 2 MiB wait for it; the tab comes back."""
    page = new_page(fresh_user)
    page.fill("#composer textarea[name=message]", "hello")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=30_000
    )

    sockets, resumes = [], []

    def through(ws):
        server = ws.connect_to_server()
        sockets.append(ws)

        def to_server(message):
            if '"resume"' in message:
                resumes.append(message)
            server.send(message)

        ws.on_message(to_server)

    page.route_web_socket(re.compile(r"/ws/c/\d+/$"), through)
    page.reload()
    expect(page.locator(ASSISTANT).last).to_have_attribute("data-status", "completed")
    wait_until(page, lambda: resumes)
    assert len(sockets) == 1 and len(resumes) == 1
    sockets[0].close(code=4408, reason="fell behind")
    wait_until(page, lambda: len(resumes) >= 2)
    assert len(sockets) == 2 and len(resumes) == 2


def wait_until(page, condition, seconds=30):
    for _ in range(seconds * 20):
        if condition():
            return
        page.wait_for_timeout(50)
