"""Errors shown to people (attachment and import refusals, stored turn errors, media alt
texts) speak the active language; English stays word for word what it was."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from chatsite.chat.attachments import AttachmentError, check_uploads
from chatsite.chat.imports import ImportRefused, read
from chatsite.chat.rendering.blocks import block_view


@pytest.fixture(autouse=True)
def back_to_english():
    yield
    translation.deactivate()


def _refusal(exc_type, call) -> str:
    with pytest.raises(exc_type) as caught:
        call()
    return str(caught.value)


def test_an_empty_attachment_is_refused_in_russian():
    empty = SimpleUploadedFile("notes.txt", b"", content_type="text/plain")
    translation.activate("ru")
    assert _refusal(AttachmentError, lambda: check_uploads([empty])) == "“notes.txt” — пустой файл."


def test_a_file_of_unknown_type_is_refused_in_italian_with_the_kinds_translated():
    odd = SimpleUploadedFile("tool.exe", b"MZ\x90\x00" * 10, content_type="application/x-msdos")
    translation.activate("it")
    assert "immagini, audio, video" in _refusal(AttachmentError, lambda: check_uploads([odd]))


def test_an_import_that_is_not_json_is_refused_in_hebrew_and_english():
    def bad():
        return SimpleUploadedFile("x.json", b"not json")

    translation.activate("he")
    assert (
        _refusal(ImportRefused, lambda: read(bad()))
        == "הקובץ הזה אינו JSON. ייצאו קודם שיחה כ־JSON."
    )
    translation.activate("en")
    assert (
        _refusal(ImportRefused, lambda: read(bad()))
        == "That file is not JSON. Export a conversation as JSON first."
    )


def test_no_file_for_import_is_refused_in_vietnamese():
    translation.activate("vi")
    assert (
        _refusal(ImportRefused, lambda: read(None)) == "Hãy chọn một tệp JSON đã xuất từ chatsite."
    )


def test_a_tool_image_alt_text_is_in_persian_and_unchanged_in_english():
    block = {"type": "image", "mime_type": "image/png", "uri": "https://example.com/a.png"}
    translation.activate("fa")
    fa = block_view(block, turn_id=1, text="plain", where="returned by the tool")
    assert fa["alt"] == "تصویری که ابزار برگرداند"
    translation.activate("en")
    assert block_view(block, turn_id=1)["alt"] == "Image from the model"
