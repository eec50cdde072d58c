"""How the page sends a message: words alone go on the conversation's socket (the reply's
request then leaves without a page request's work, issue 16); files, "In background" or a
settings change still being saved go in the form's POST. Either way the words stay in the box
until the server has them."""

import json

from playwright.sync_api import expect

from .ui import MESSAGE, body_with, interaction_with, send, start, wait_for_reply

QUICK = "[emulator:pace=0]"
FILE_INPUT = "#composer input[type=file][name=attachments]"
OTHER_MODEL = "gemini-3.1-pro-preview"


def watch(page):
    """Records the page's POSTs (their paths) and the messages it sends on its sockets."""
    seen = {"posts": [], "frames": []}

    def on_request(request):
        if request.method == "POST":
            seen["posts"].append(request.url.split("//", 1)[1].split("/", 1)[1])

    def on_socket(socket):
        socket.on("framesent", lambda payload: seen["frames"].append(payload))

    page.on("request", on_request)
    page.on("websocket", on_socket)
    return seen


def after_a_first_reply(page, emulator, words: str):
    """A conversation whose first reply has ended, watched from before it began (`watch`)."""
    seen = watch(page)
    start(page, f"{words} {QUICK}")
    wait_for_reply(page, turns=1)
    return seen, interaction_with(emulator, words)


def sent_on_socket(seen, words: str) -> bool:
    for frame in seen["frames"]:
        message = json.loads(frame) if isinstance(frame, str) else {}
        if message.get("action") == "send" and message.get("message") == words:
            return True
    return False


def posted_sends(seen) -> list[str]:
    return [path for path in seen["posts"] if path.endswith("/send/")]


def test_words_go_on_the_socket_and_the_box_empties_once_they_are_saved(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    seen, first = after_a_first_reply(page, browser_emulator, "my project is called Plover")

    words = f"what is it called? {QUICK}"
    send(page, words)
    wait_for_reply(page, turns=2)
    assert sent_on_socket(seen, words)
    assert posted_sends(seen) == []
    expect(page.locator(MESSAGE)).to_have_value("")
    expect(page.locator(MESSAGE)).to_be_focused()
    assert body_with(browser_emulator, "what is it called?")["previous_interaction_id"] == first.id
    expect(page.locator("[data-role=assistant]").last).to_contain_text("Plover")


def test_words_the_server_refuses_stay_in_the_box_with_the_reason(new_page, fresh_user):
    page = new_page(fresh_user)
    seen = watch(page)
    start(page, "go on and on [emulator:words=2000]")
    expect(page.locator(".stream-text").last).not_to_be_empty()

    # Enter waits while a reply is written; a form submitted anyway is refused by the server.
    page.fill(MESSAGE, "a follow-up typed too early")
    page.evaluate("document.getElementById('composer').requestSubmit()")
    expect(page.locator("#composer-error")).to_contain_text("Wait for the reply to finish")
    assert sent_on_socket(seen, "a follow-up typed too early")
    expect(page.locator(MESSAGE)).to_have_value("a follow-up typed too early")

    page.get_by_role("button", name="Stop").click()
    wait_for_reply(page, turns=1, status="cancelled")
    page.get_by_role("button", name="Send").click()  # the same words, now taken
    wait_for_reply(page, turns=2)
    expect(page.locator(MESSAGE)).to_have_value("")
    expect(page.locator("#composer-error")).to_have_text("")


def test_a_message_with_a_file_is_posted_with_it(new_page, fresh_user, browser_emulator):
    page = new_page(fresh_user)
    seen, _ = after_a_first_reply(page, browser_emulator, "first")

    page.set_input_files(
        FILE_INPUT, files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"Avocet"}]
    )
    send(page, f"what does the note say? {QUICK}")
    wait_for_reply(page, turns=2)
    assert len(posted_sends(seen)) == 1
    assert not sent_on_socket(seen, f"what does the note say? {QUICK}")
    body = body_with(browser_emulator, "what does the note say?")
    assert "Avocet" in json.dumps(body["input"])  # the file went with the words


def test_a_settings_change_still_being_saved_goes_with_the_message(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    seen, _ = after_a_first_reply(page, browser_emulator, "first")

    held = []  # the settings' save, held until the message has gone
    page.route("**/settings/", lambda route: held.append(route))
    with page.expect_request("**/settings/"):
        page.select_option("#composer select[name=model]", OTHER_MODEL)
    send(page, f"which model? {QUICK}")
    wait_for_reply(page, turns=2)
    assert len(posted_sends(seen)) == 1
    assert body_with(browser_emulator, "which model?")["model"] == OTHER_MODEL
    assert held  # the save was still waiting all along
    for route in held:
        route.continue_()


def test_words_whose_socket_drops_before_the_server_has_them_go_again(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    dropped = []

    def route(ws):  # the page's socket, through the test: it drops the first message sent
        server = ws.connect_to_server()

        def from_page(message):
            if not dropped and isinstance(message, str) and '"action":"send"' in message:
                dropped.append(message)
                ws.close(code=1012, reason="restarting")  # the page reconnects after 1012
                server.close()
                return
            server.send(message)

        ws.on_message(from_page)

    page.route_web_socket("**/ws/c/**", route)
    after_a_first_reply(page, browser_emulator, "first")
    words = f"said as the line dropped {QUICK}"
    send(page, words)
    # Sent again after a pause (composer.js, noAnswer), on the reopened socket or posted.
    expect(page.locator("[data-turn-id]")).to_have_count(2, timeout=20_000)
    wait_for_reply(page, turns=2)
    assert dropped and words in dropped[0]
    expect(page.locator(MESSAGE)).to_have_value("")
    expect(page.locator("[data-role=user]", has_text="said as the line dropped")).to_have_count(1)
    creates = [b for b in browser_emulator.store.create_bodies() if words in json.dumps(b)]
    assert len(creates) == 1  # sent again once, not twice
