"""Step media: served by URL to the turn's owner only, with headers that keep it inert."""

import base64
import hashlib

import pytest
from django.urls import reverse

from chatsite.chat.models import Conversation, Turn
from chatsite.chat.rendering import media_url

pytestmark = pytest.mark.django_db

PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)
PNG = base64.b64encode(PNG_BYTES).decode()
HTML = base64.b64encode(b"<script>alert(document.cookie)</script>").decode()
SVG = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>').decode()
PDF = base64.b64encode(b"%PDF-1.4\n%tiny\n").decode()
CHART = base64.b64encode(PNG_BYTES + b"chart").decode()
THOUGHT = base64.b64encode(PNG_BYTES + b"thought").decode()


def image(data, mime="image/png"):
    return {"type": "image", "data": data, "mime_type": mime}


def make_turn(owner, steps):
    convo = Conversation.objects.create(owner=owner, title="media", model="gemini-3.5-flash")
    return Turn.objects.create(conversation=convo, status="completed", steps=steps)


@pytest.fixture
def turn(user):
    return make_turn(
        user,
        [
            {"type": "user_input", "content": [{"type": "text", "text": "draw"}]},
            {"type": "thought", "summary": [{"type": "text", "text": "hm"}, image(THOUGHT)]},
            {"type": "code_execution_result", "call_id": "c", "result": [image(CHART)]},
            {
                "type": "model_output",
                "content": [
                    {"type": "text", "text": "Here:"},
                    image(PNG),
                    {"type": "document", "data": HTML, "mime_type": "text/html"},
                    image(SVG, "image/svg+xml"),
                    {"type": "document", "data": PDF, "mime_type": "application/pdf"},
                ],
            },
        ],
    )


def url_for(turn, data, mime="image/png"):
    url = media_url(turn.pk, image(data, mime))
    digest = hashlib.sha256(data.encode()).hexdigest()
    assert url == reverse("step-media", args=[turn.pk, digest[:32]])
    return url


def assert_inert_headers(response):
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert "allow-scripts" not in csp and "allow-same-origin" not in csp


def test_owner_gets_the_bytes_with_cache_and_safety_headers(client, user, turn):
    client.force_login(user)
    response = client.get(url_for(turn, PNG))
    assert response.status_code == 200
    assert response.content == PNG_BYTES
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["ETag"] == f'"{hashlib.sha256(PNG.encode()).hexdigest()}"'
    assert response["Content-Disposition"].startswith("inline")
    assert_inert_headers(response)


def test_thought_summary_and_tool_result_images_are_served(client, user, turn):
    client.force_login(user)
    assert client.get(url_for(turn, THOUGHT)).content == PNG_BYTES + b"thought"
    assert client.get(url_for(turn, CHART)).content == PNG_BYTES + b"chart"


def test_other_user_gets_404(client, other_user, turn):
    client.force_login(other_user)
    assert client.get(url_for(turn, PNG)).status_code == 404


def test_anonymous_is_sent_to_sign_in_not_served(client, turn):
    response = client.get(url_for(turn, PNG))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert PNG_BYTES not in response.content


def test_unknown_or_malformed_digest_is_404(client, user, turn):
    client.force_login(user)
    assert client.get(reverse("step-media", args=[turn.pk, "0" * 32])).status_code == 404
    for bad in ("abc", "G" * 32, hashlib.sha256(PNG.encode()).hexdigest()[:31] + "Z"):
        assert client.get(f"/media/t/{turn.pk}/{bad}/").status_code == 404
    assert client.get(reverse("step-media", args=[turn.pk + 999, "0" * 32])).status_code == 404


def test_digest_from_another_turn_is_404(client, user, other_user, turn):
    theirs = make_turn(other_user, [{"type": "model_output", "content": [image(PNG + "AAAA")]}])
    client.force_login(user)
    digest = hashlib.sha256((PNG + "AAAA").encode()).hexdigest()[:32]
    # their digest on my turn, and my digest on their turn: neither is served
    assert client.get(reverse("step-media", args=[turn.pk, digest])).status_code == 404
    assert client.get(reverse("step-media", args=[theirs.pk, digest])).status_code == 404


def test_if_none_match_gives_304(client, user, turn):
    client.force_login(user)
    url = url_for(turn, PNG)
    etag = client.get(url)["ETag"]
    response = client.get(url, headers={"if-none-match": etag})
    assert response.status_code == 304 and response.content == b""
    assert response["ETag"] == etag
    assert client.get(url, headers={"if-none-match": f'"x", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"if-none-match": '"other"'}).status_code == 200


@pytest.mark.parametrize("data,mime", [(HTML, "text/html"), (SVG, "image/svg+xml")])
def test_html_and_svg_are_inert_downloads(client, user, turn, data, mime):
    client.force_login(user)
    response = client.get(url_for(turn, data, mime))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert_inert_headers(response)


def test_documents_download_with_their_type(client, user, turn):
    client.force_login(user)
    response = client.get(url_for(turn, PDF, "application/pdf"))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Disposition"].endswith('.pdf"')
    assert_inert_headers(response)


def test_only_safe_methods(client, user, turn):
    client.force_login(user)
    url = url_for(turn, PNG)
    assert client.head(url).status_code == 200
    assert client.post(url).status_code == 405


def test_the_page_links_media_and_never_inlines_base64(client, user, turn):
    client.force_login(user)
    page = client.get(reverse("conversation", args=[turn.conversation_id])).content.decode()
    for data in (PNG, THOUGHT, CHART, HTML, SVG, PDF):
        assert data not in page
    assert f'src="{url_for(turn, PNG)}"' in page
    assert f'href="{url_for(turn, PDF)}"' in page


SNIPPET = (
    '<style>.chip{color:red}</style><a class="chip" href="https://www.google.com/search?q=x">x</a>'
    "<script>alert(1)</script>"
)


def suggestions_turn(owner):
    return make_turn(
        owner,
        [
            {
                "type": "google_search_result",
                "call_id": "s1",
                "result": [{"search_suggestions": SNIPPET}],
            }
        ],
    )


def test_search_suggestions_are_framed_from_our_own_url_with_no_scripts(client, user):
    from chatsite.chat.rendering.media import suggestions_url

    turn = suggestions_turn(user)
    client.force_login(user)
    response = client.get(suggestions_url(turn.pk, SNIPPET))
    assert response.status_code == 200
    assert SNIPPET in response.content.decode()  # shown whole, as Google's terms ask
    csp = response["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "sandbox" in csp
    assert "frame-ancestors 'self'" in csp
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_search_suggestions_of_someone_else_are_404(client, user, other_user):
    from chatsite.chat.rendering.media import suggestions_url

    turn = suggestions_turn(user)
    client.force_login(other_user)
    assert client.get(suggestions_url(turn.pk, SNIPPET)).status_code == 404


def test_a_superuser_reviewing_a_transcript_sees_its_images(client, user, make_user, turn):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    assert client.get(url_for(turn, PNG)).status_code == 200


def test_plain_staff_do_not_see_other_peoples_images(client, user, make_user, turn):
    staff = make_user("staffer", is_staff=True)
    client.force_login(staff)
    assert client.get(url_for(turn, PNG)).status_code == 404
