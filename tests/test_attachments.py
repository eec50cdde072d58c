"""Attachments: checked before anything is stored, kept under their hash, sent inline, served to
their owner only, and shown in the user's bubble."""

import base64
import hashlib
import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template
from django.urls import reverse

from chatsite.chat import attachments
from chatsite.chat.attachments import AttachmentError
from chatsite.chat.models import Attachment, Conversation, Turn
from chatsite.chat.rendering.user import render_user_input

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n%tiny\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 32
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 16
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 32
SHA = hashlib.sha256(PNG).hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zipped(**members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


DOCX = zipped(**{"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"})
XLSX = zipped(**{"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"})
ZIP = zipped(**{"notes.txt": "just a zip"})


def upload(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def refused(files, user=None) -> str:
    with pytest.raises(AttachmentError) as caught:
        if user is None:
            attachments.check_uploads(files)
        else:
            attachments.save_uploads(user, files)
    return str(caught.value)


# --- checks ---------------------------------------------------------------------------------


def test_an_empty_file_is_refused():
    assert refused([upload("x.png", b"")]) == "“x.png” is empty."


def test_an_oversized_file_is_refused_naming_the_limit(settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    assert refused([upload("big.png", PNG + b"\0" * 101)]) == (
        "“big.png” is 170 bytes; the limit is 100 bytes per file."
    )
    attachments.check_uploads([upload("small.png", PNG)])


def test_sizes_read_as_people_read_them():
    assert attachments.human_size(int(31.2 * 1024 * 1024)) == "31.2 MB"
    assert attachments.human_size(20 * 1024 * 1024) == "20 MB"
    assert attachments.human_size(1536) == "1.5 KB"
    assert attachments.human_size(1) == "1 byte"


def test_the_default_limits_are_the_inline_ones():
    assert attachments.max_bytes() == 20 * 1024 * 1024
    assert attachments.max_files() == 10
    assert attachments.max_total_bytes() == 40 * 1024 * 1024


def test_too_many_files_are_refused(settings):
    settings.ATTACHMENT_MAX_FILES = 2
    files = [upload(f"{i}.png", PNG) for i in range(3)]
    assert refused(files) == "That is 3 files; the limit is 2 per message."


def test_files_over_the_total_are_refused(settings):
    settings.ATTACHMENT_MAX_TOTAL_BYTES = 100
    message = refused([upload("a.png", PNG), upload("b.pdf", PDF)])
    total = len(PNG) + len(PDF)
    assert message == f"These files add up to {total} bytes; the limit is 100 bytes per message."


def test_a_request_body_far_over_the_limit_is_refused_before_parsing(settings):
    settings.ATTACHMENT_MAX_TOTAL_BYTES = 1024 * 1024
    attachments.check_request_length("2000000")  # within the limit plus the form's overhead
    attachments.check_request_length(None)
    with pytest.raises(AttachmentError, match="limit is 1 MB per message"):
        attachments.check_request_length(str(10 * 1024 * 1024))


@pytest.mark.parametrize("name", ["x.exe", "setup.msi", "page.svg", "movie.mkv"])
def test_a_type_gemini_cannot_read_is_refused(name):
    message = refused([upload(name, b"MZ\x90\x00whatever")])
    assert message.startswith(f"“{name}” is not a file type Gemini can read (")
    assert "images, audio, video, PDFs" in message


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("cat.png", ZIP, "“cat.png” is not really a PNG image (it looks like a ZIP archive)."),
        ("report.pdf", HTML, "“report.pdf” is not really a PDF (it looks like an HTML page)."),
        ("photo.png", JPEG, "“photo.png” is not really a PNG image (it looks like a JPEG image)."),
        ("a.docx", ZIP, "“a.docx” is not really a Word document (it looks like a ZIP archive)."),
        (
            "a.docx",
            XLSX,
            "“a.docx” is not really a Word document (it looks like an Excel spreadsheet).",
        ),
        ("notes.txt", PNG, "“notes.txt” is not really a text file (it looks like a PNG image)."),
        (
            "notes.md",
            "héllo".encode("utf-16"),
            "“notes.md” is not really a Markdown file (it looks like binary data).",
        ),
        ("song.mp3", PDF, "“song.mp3” is not really an MP3 audio file (it looks like a PDF)."),
        ("clip.mp4", PNG, "“clip.mp4” is not really an MP4 video (it looks like a PNG image)."),
        (
            "old.doc",
            DOCX,
            "“old.doc” is not really a Word 97–2003 document (it looks like a Word document).",
        ),
    ],
)
def test_a_lying_extension_is_refused(name, data, message):
    assert refused([upload(name, data, content_type="image/png")]) == message


@pytest.mark.parametrize(
    ("name", "data", "mime", "kind"),
    [
        ("dot.png", PNG, "image/png", "image"),
        ("photo.JPG", JPEG, "image/jpeg", "image"),
        ("report.pdf", PDF, "application/pdf", "document"),
        ("letter.docx", DOCX, attachments.TYPES["docx"].mime, "document"),
        ("sheet.xlsx", XLSX, attachments.TYPES["xlsx"].mime, "document"),
        ("song.mp3", MP3, "audio/mp3", "audio"),
        ("clip.mp4", MP4, "video/mp4", "video"),
        ("notes.md", "# Notes — é\n".encode(), "text/markdown", "document"),
        ("data.csv", b"a,b\n1,2\n", "text/csv", "document"),
        ("no-extension", PNG, "image/png", "image"),
    ],
)
def test_real_files_pass_whatever_the_browser_says(name, data, mime, kind):
    [checked] = attachments.check_uploads([upload(name, data, content_type="x-evil/lies")])
    assert (checked.type.mime, checked.type.kind, checked.sha256) == (mime, kind, sha(data))


def test_display_names_lose_paths_controls_and_bidi_overrides():
    assert attachments.clean_name("C:\\Users\\me\\..\\x.png") == "x.png"
    assert attachments.clean_name("../../etc/\u202egnp.exe\x00\n.png") == "gnp.exe.png"
    assert attachments.clean_name("\u2066a\u2069\u200f.pdf") == "a.pdf"
    long = attachments.clean_name("a" * 500 + ".png")
    assert len(long) == 200 and long.endswith("….png")
    assert attachments.clean_name("") == "file" and attachments.clean_name("..") == "file"
    assert attachments.clean_name("👩‍💻 notes.md") == "👩‍💻 notes.md"  # ZWJ emoji survive


# --- storing --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_files_are_stored_under_their_hash(user):
    [row] = attachments.save_uploads(user, [upload("dot.png", PNG)])
    assert (row.sha256, row.name, row.mime_type, row.kind, row.size) == (
        SHA,
        "dot.png",
        "image/png",
        "image",
        len(PNG),
    )
    assert row.file.name == f"attachments/{user.pk}/{SHA[:2]}/{SHA}"
    with default_storage.open(row.file.name, "rb") as handle:
        assert handle.read() == PNG


@pytest.mark.django_db
def test_one_bad_file_and_nothing_is_stored(user):
    message = refused([upload("dot.png", PNG), upload("cat.png", ZIP)], user=user)
    assert "cat.png" in message
    assert not Attachment.objects.exists()
    assert not default_storage.exists(f"attachments/{user.pk}")


@pytest.mark.django_db
def test_the_same_file_twice_is_stored_once_per_owner(user, other_user):
    first = attachments.save_uploads(user, [upload("dot.png", PNG)])[0]
    again = attachments.save_uploads(user, [upload("renamed.png", PNG)])[0]
    theirs = attachments.save_uploads(other_user, [upload("dot.png", PNG)])[0]
    assert again.pk == first.pk and again.name == "renamed.png"
    assert theirs.pk != first.pk and theirs.file.name != first.file.name
    assert Attachment.objects.filter(owner=user).count() == 1


@pytest.mark.django_db
def test_a_file_lost_from_storage_is_stored_again(user):
    row = attachments.save_uploads(user, [upload("dot.png", PNG)])[0]
    default_storage.delete(row.file.name)
    attachments.save_uploads(user, [upload("dot.png", PNG)])
    assert default_storage.exists(row.file.name)


# --- blocks ---------------------------------------------------------------------------------


@pytest.fixture
def saved(db, user):
    return attachments.save_uploads(
        user, [upload("dot.png", PNG), upload("notes.md", b"# Hi\n"), upload("r.pdf", PDF)]
    )


def test_stored_blocks_are_references_without_bytes(saved):
    blocks = attachments.input_blocks(saved)
    assert blocks[0] == {
        "type": "image", "mime_type": "image/png", "attachment": SHA, "name": "dot.png",
        "size": len(PNG),
    }  # fmt: skip
    assert all("data" not in b for b in blocks)


def test_the_request_carries_the_bytes_inline(saved, user):
    stored = [{"type": "text", "text": "look"}, *attachments.input_blocks(saved)]
    sent = attachments.inline_input(user, stored)
    assert sent[0] == {"type": "text", "text": "look"}
    assert sent[1] == {
        "type": "image",
        "mime_type": "image/png",
        "data": base64.b64encode(PNG).decode(),
    }
    # The API has no text document type: a text file goes as text, named.
    assert sent[2] == {"type": "text", "text": "[File: notes.md]\n# Hi\n"}
    assert sent[3]["type"] == "document" and sent[3]["mime_type"] == "application/pdf"
    assert base64.b64decode(sent[3]["data"]) == PDF
    assert stored[1].get("data") is None  # the stored blocks are left as they were


def test_inline_input_reads_only_the_owners_files(saved, other_user):
    with pytest.raises(AttachmentError, match="“dot.png” is no longer stored here"):
        attachments.inline_input(other_user, attachments.input_blocks(saved[:1]))


def test_a_file_gone_from_storage_is_a_clear_error(saved, user):
    default_storage.delete(saved[0].file.name)
    with pytest.raises(AttachmentError, match="“dot.png” is no longer stored here; attach it"):
        attachments.inline_input(user.pk, attachments.input_blocks(saved))


def test_the_apis_echo_of_the_files_is_stored_as_references(saved, user):
    user_input = [{"type": "text", "text": "look"}, *attachments.input_blocks(saved)]
    sent = attachments.inline_input(user, user_input)
    other = {"type": "image", "mime_type": "image/png", "data": base64.b64encode(JPEG).decode()}
    steps = [
        {"type": "user_input", "content": [*sent, other]},
        {"type": "model_output", "content": [{"type": "text", "text": "A dot."}]},
    ]
    stripped = attachments.strip_echo(steps, user_input)
    echo = stripped[0]["content"]
    assert echo[0] == {"type": "text", "text": "look"}
    assert echo[1] == user_input[1]  # image: reference, no data
    assert echo[2] == user_input[2]  # the text file's text: back to its reference
    assert echo[3] == user_input[3]
    assert echo[4] == other  # not one of this turn's files: kept as received
    assert stripped[1] is steps[1]
    assert "data" in steps[0]["content"][1]  # the input is not changed in place
    assert attachments.strip_echo(stripped, user_input) == stripped
    assert attachments.strip_echo(steps, [{"type": "text", "text": "x"}]) is steps


# --- serving --------------------------------------------------------------------------------


def assert_inert(response):
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"


def test_the_owner_gets_the_file_with_cache_and_safety_headers(client, user, saved):
    client.force_login(user)
    response = client.get(reverse("attachment", args=[SHA]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["ETag"] == f'"{SHA}"'
    assert response["Content-Disposition"] == 'inline; filename="dot.png"'
    assert_inert(response)


def test_a_pdf_downloads_and_a_text_file_is_never_served_as_html(client, user, saved):
    client.force_login(user)
    pdf = client.get(reverse("attachment", args=[sha(PDF)]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == 'attachment; filename="r.pdf"'
    assert_inert(pdf)
    attachments.save_uploads(user, [upload("page.html", HTML)])
    page = client.get(reverse("attachment", args=[sha(HTML)]))
    assert page["Content-Type"] == "text/plain"
    assert page["Content-Disposition"].startswith("attachment")
    assert_inert(page)


def test_a_revalidation_gets_304(client, user, saved):
    client.force_login(user)
    response = client.get(reverse("attachment", args=[SHA]), headers={"If-None-Match": f'"{SHA}"'})
    assert response.status_code == 304
    assert_inert(response)


def test_another_user_gets_404(client, other_user, saved):
    client.force_login(other_user)
    assert client.get(reverse("attachment", args=[SHA])).status_code == 404


def test_an_anonymous_visitor_is_sent_to_sign_in(client, saved):
    response = client.get(reverse("attachment", args=[SHA]))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_malformed_hash_or_a_post_is_refused(client, user, saved):
    client.force_login(user)
    assert client.get("/a/not-a-hash/").status_code == 404
    assert client.get(f"/a/{SHA.upper()}/").status_code == 404
    assert client.post(reverse("attachment", args=[SHA])).status_code == 405


def test_non_ascii_names_are_sent_in_rfc_6266_form(client, user):
    attachments.save_uploads(user, [upload("Café “report”.pdf", PDF)])
    client.force_login(user)
    response = client.get(reverse("attachment", args=[sha(PDF)]))
    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''Caf%C3%A9")


# --- the user's bubble ----------------------------------------------------------------------


def test_the_bubble_shows_a_thumbnail_a_player_and_file_chips(db, user):
    files = attachments.save_uploads(
        user,
        [upload("dot.png", PNG), upload("song.mp3", MP3), upload("clip.mp4", MP4),
         upload("r.pdf", PDF), upload("notes.md", b"# Hi\n")],
    )  # fmt: skip
    turn = Turn(user_input=[{"type": "text", "text": "see"}, *attachments.input_blocks(files)])
    html = str(render_user_input(turn))
    assert (
        f'<figure class="attachment attachment-image"><a href="/a/{SHA}/" target="_blank" '
        f'rel="noopener noreferrer"><img src="/a/{SHA}/" alt="dot.png" loading="lazy"'
    ) in html
    assert f'<audio controls preload="metadata" src="/a/{sha(MP3)}/" aria-label="song.mp3">' in html
    assert f'<video controls preload="metadata" src="/a/{sha(MP4)}/"' in html
    assert f'<a class="attachment attachment-file" href="/a/{sha(PDF)}/" download="r.pdf">' in html
    assert "PDF · " in html and "Markdown · 5 bytes" in html


def test_names_in_the_bubble_are_escaped_and_isolated():
    block = {"type": "document", "mime_type": "application/pdf", "attachment": SHA,
             "name": '<img src=x onerror=alert(1)>".pdf', "size": 10}  # fmt: skip
    html = str(render_user_input(Turn(user_input=[block])))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<bdi class="attachment-name">' in html


def test_the_bubble_ignores_text_and_malformed_references():
    turn = Turn(
        user_input=[
            {"type": "text", "text": "hi"},
            {"type": "image", "attachment": "../../etc/passwd"},
            {"type": "image", "data": base64.b64encode(PNG).decode()},
            "nonsense",
        ]
    )
    assert str(render_user_input(turn)) == ""


def test_heic_and_avi_show_as_file_chips_not_broken_players():
    turn = Turn(user_input=[
        {"type": "image", "mime_type": "image/heic", "attachment": SHA, "name": "a.heic"},
        {"type": "video", "mime_type": "video/avi", "attachment": SHA, "name": "b.avi"},
    ])  # fmt: skip
    html = str(render_user_input(turn))
    assert "<img" not in html and "<video" not in html
    assert html.count("attachment-file") == 2


def test_the_template_tags():
    turn = Turn(user_input=[{"type": "image", "mime_type": "image/png", "attachment": SHA,
                             "name": "dot.png", "size": 3}])  # fmt: skip
    html = Template("{% load chat %}{% user_attachments turn %}").render(Context({"turn": turn}))
    assert f'src="/a/{SHA}/"' in html
    review = Template("{% load chat %}{% user_attachments turn %}").render(
        Context({"turn": turn, "review": True})
    )
    assert "/a/" not in review and '<bdi class="attachment-name">dot.png</bdi>' in review
    rules = Template("{% load chat %}<input {% attachment_rules %}>").render(Context())
    assert 'accept=".png,.jpg,' in rules and ".pdf" in rules and ".exe" not in rules
    assert f'data-max-bytes="{20 * 1024 * 1024}" data-max-files="10"' in rules


# --- the composer's send path (needs the wiring in views/services/runner) ---------------------


@pytest.mark.django_db(transaction=True)
async def test_a_message_with_a_file_stores_a_reference_and_sends_the_bytes(
    async_client, user, emulator
):
    from .helpers import wait_for_turn

    await async_client.aforce_login(user)
    response = await async_client.post(
        "/c/new/",
        {"message": "what is this?", "attachments": [upload("dot.png", PNG)]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    convo = await Conversation.objects.aget(owner=user)
    turn = await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)
    assert turn.status == "completed"
    assert turn.user_input == [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "mime_type": "image/png", "attachment": SHA, "name": "dot.png",
         "size": len(PNG)},
    ]  # fmt: skip
    body = next(
        b for b in reversed(emulator.store.create_bodies())
        if isinstance(b, dict) and "what is this?" in str(b.get("input"))
    )  # fmt: skip
    [image] = [b for b in body["input"] if b.get("type") == "image"]
    assert base64.b64decode(image["data"]) == PNG and "attachment" not in image
    assert "data" not in str(turn.steps)  # the echo was stored as references
    page = (await async_client.get(convo.get_absolute_url())).content.decode()
    assert f'<img src="/a/{SHA}/" alt="dot.png"' in page


@pytest.mark.django_db(transaction=True)
async def test_a_lying_file_gets_a_clear_error_and_nothing_is_saved(async_client, user):
    await async_client.aforce_login(user)
    response = await async_client.post(
        "/c/new/",
        {"message": "keep me", "attachments": [upload("cat.png", ZIP)]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422 and response["HX-Reswap"] == "none"
    assert "“cat.png” is not really a PNG image (it looks like a ZIP archive)." in (
        response.content.decode()
    )
    assert not await Conversation.objects.aexists()
    assert not await Attachment.objects.aexists()
