"""Attachments in a real browser: pick, paste or drop a file, see it in the bubble, and the
model gets its bytes; a wrong file is refused with the typed message kept."""

import base64
import io
import json
import re
import zipfile

from playwright.sync_api import expect

from chatsite.emulator.media import make_png

from .conftest import screenshot

ASSISTANT = "[data-role=assistant]"
FILE_INPUT = "#composer input[type=file][name=attachments]"
MESSAGE = "#composer textarea[name=message]"
TRAY = "#attachment-tray li"
PNG = make_png(b"a picture for the browser test", 48, 32)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inside.txt", "not a picture")
    return buffer.getvalue()


def body_with(emulator, text: str) -> dict:
    """The last create request the emulator received whose input mentions `text`."""
    for body in reversed(emulator.store.create_bodies()):
        if isinstance(body, dict) and text in json.dumps(body.get("input")):
            return body
    raise AssertionError(f"no request with {text!r} reached the emulator")


def natural_width(page, selector) -> int:
    page.wait_for_function(
        "(sel) => { const img = document.querySelector(sel); "
        "return img && img.complete && img.naturalWidth > 0; }",
        arg=selector,
        timeout=10_000,
    )
    return page.eval_on_selector(selector, "img => img.naturalWidth")


def test_an_attached_image_shows_in_the_bubble_and_reaches_the_request(new_page, browser_emulator):
    page = new_page()
    page.fill(MESSAGE, "what is in this picture?")
    page.set_input_files(
        FILE_INPUT, files=[{"name": "picture.png", "mimeType": "image/png", "buffer": PNG}]
    )
    expect(page.locator(TRAY)).to_have_count(1)
    expect(page.locator(TRAY)).to_contain_text("picture.png")
    expect(page.get_by_role("button", name="Remove picture.png")).to_be_visible()
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))

    thumbnail = "[data-role=user] figure img"
    expect(page.locator(thumbnail).last).to_have_attribute("alt", "picture.png")
    assert natural_width(page, thumbnail) == 48
    expect(page.locator(TRAY)).to_have_count(0)
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=20_000
    )

    body = body_with(browser_emulator, "what is in this picture?")
    images = [b for b in body["input"] if isinstance(b, dict) and b.get("type") == "image"]
    assert len(images) == 1 and images[0]["mime_type"] == "image/png"
    assert base64.b64decode(images[0]["data"]) == PNG
    assert "attachment" not in images[0]  # our own keys never reach the API
    screenshot(page, "attachment-image-desktop")

    page.reload()  # the page, rendered by the server, shows the same thumbnail
    assert natural_width(page, thumbnail) == 48


def test_a_wrong_file_gets_a_clear_error_and_the_typed_text_stays(new_page, server):
    page = new_page()
    page.fill(MESSAGE, "keep this text")
    error = page.locator("#composer-error")

    # The browser refuses what Gemini cannot read, before anything is sent.
    page.set_input_files(
        FILE_INPUT,
        files=[{"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ\x90"}],
    )
    expect(error).to_contain_text("“tool.exe” is not a file type Gemini can read")
    expect(page.locator(TRAY)).to_have_count(0)

    # A ZIP named .png gets past the browser; the server reads its bytes and refuses it.
    page.set_input_files(
        FILE_INPUT, files=[{"name": "cat.png", "mimeType": "image/png", "buffer": zip_bytes()}]
    )
    expect(page.locator(TRAY)).to_have_count(1)
    expect(error).to_be_empty()
    page.get_by_role("button", name="Send").click()
    expect(error).to_have_text("“cat.png” is not really a PNG image (it looks like a ZIP archive).")
    expect(page.locator(MESSAGE)).to_have_value("keep this text")
    expect(page.locator(TRAY)).to_have_count(1)  # to remove, or to send again once replaced
    assert page.url == f"{server.url}/"  # no conversation was started
    screenshot(page, "attachment-error-desktop")


def test_paste_and_drop_add_files_to_the_tray(new_page, browser_emulator):
    page = new_page()
    page.evaluate(
        """(png) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(png)], "screenshot.png", {type: "image/png"}));
            const box = document.querySelector("#composer textarea[name=message]");
            box.dispatchEvent(new ClipboardEvent("paste",
                {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        list(PNG),
    )
    expect(page.locator(TRAY)).to_have_count(1)
    expect(page.locator(TRAY)).to_contain_text("screenshot.png")
    expect(page.locator("#attachment-tray canvas")).to_have_count(1)  # the thumbnail

    highlighted = page.evaluate(
        """() => {
            const data = new DataTransfer();
            data.items.add(new File(["# Notes\\n"], "notes.md", {type: "text/markdown"}));
            const form = document.getElementById("composer");
            const fire = (type) => form.dispatchEvent(
                new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
            fire("dragenter");
            const during = form.classList.contains("is-dragging");
            fire("drop");
            return [during, form.classList.contains("is-dragging")];
        }"""
    )
    assert highlighted == [True, False]
    expect(page.locator(TRAY)).to_have_count(2)
    names = page.eval_on_selector(FILE_INPUT, "input => Array.from(input.files, f => f.name)")
    assert names == ["screenshot.png", "notes.md"]  # what the form will send

    page.get_by_role("button", name="Remove screenshot.png").click()
    expect(page.locator(TRAY)).to_have_count(1)
    names = page.eval_on_selector(FILE_INPUT, "input => Array.from(input.files, f => f.name)")
    assert names == ["notes.md"]

    page.fill(MESSAGE, "summarise my notes")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("[data-role=user] .attachment-file").last).to_contain_text("notes.md")
    expect(page.locator(ASSISTANT).last).to_have_attribute(
        "data-status", "completed", timeout=20_000
    )
    body = body_with(browser_emulator, "summarise my notes")
    assert {"type": "text", "text": "[File: notes.md]\n# Notes\n"} in body["input"]
