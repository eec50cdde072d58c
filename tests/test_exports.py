"""Exports of a conversation: JSON keeps every step verbatim; Markdown is for people, and the
conversation's own text cannot break its structure."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from markdown_it import MarkdownIt

from chatsite.chat import branches
from chatsite.chat.exports import (
    contain_markdown,
    conversation_json,
    conversation_markdown,
    json_bytes,
)
from chatsite.chat.imports import import_conversation
from chatsite.chat.models import Conversation, Turn

pytestmark = pytest.mark.django_db

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk" + "A" * 400


def structure(markdown: str):
    """(tag, text) of every heading, read as a viewer that renders raw HTML would."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = md.parse(markdown)
    headings = [
        (tokens[i].tag, tokens[i + 1].content)
        for i, t in enumerate(tokens)
        if t.type == "heading_open"
    ]
    html = [t for t in tokens if t.type == "html_block"] + [
        c for t in tokens for c in (t.children or ()) if c.type in ("html_inline", "image")
    ]
    return headings, html


@pytest.fixture
def convo(user):
    return Conversation.objects.create(
        owner=user,
        title="Trip to Paris",
        model="gemini-3.5-flash",
        settings={"tools": ["google_search"], "system_instruction": "Be brief."},
    )


def turn(convo, text, steps, **extra):
    extra.setdefault("status", "completed")
    return Turn.objects.create(
        conversation=convo,
        user_input=extra.pop("user_input", [{"type": "text", "text": text}]),
        steps=steps,
        **extra,
    )


def answer(text, annotations=None):
    block = {"type": "text", "text": text}
    if annotations is not None:
        block["annotations"] = annotations
    return {"type": "model_output", "content": [block]}


# -- JSON ----------------------------------------------------------------------------------

STRANGE_STEPS = [
    {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
    {"type": "thought", "signature": "c2lnbmF0dXJl", "summary": [], "x_new_field": {"a": [1]}},
    {"type": "teleport_call", "id": "t1", "arguments": {"to": "Mars"}, "weird": None},
    {"type": "model_output", "content": [{"type": "hologram", "data": "AAAA"}], "extra": 1.5},
    "not even an object",
    {"type": "model_output", "content": [{"type": "text", "text": "é ✓ \u202e"}]},
]


def test_json_export_keeps_steps_verbatim(convo):
    t = turn(
        convo,
        "hi",
        STRANGE_STEPS,
        interaction_id="v1_one",
        usage={"total_tokens": 12, "future_metric": [{"modality": "smell", "tokens": 1}]},
        error={"code": "x", "message": "oops", "details": [{"@type": "t"}]},
        continuation_ids=["v1_zero"],
    )
    data = json.loads(json_bytes(conversation_json(convo)))
    assert data["format"] == "chatsite.conversation.v1"
    assert data["title"] == "Trip to Paris" and data["model"] == "gemini-3.5-flash"
    assert data["owner"] == {"id": convo.owner_id, "username": "ada"}
    assert data["settings"] == convo.settings
    [exported] = data["turns"]
    assert exported["steps"] == STRANGE_STEPS == Turn.objects.get(pk=t.pk).steps
    assert exported["user_input"] == [{"type": "text", "text": "hi"}]
    assert exported["usage"]["future_metric"] == [{"modality": "smell", "tokens": 1}]
    assert exported["error"]["details"] == [{"@type": "t"}]
    assert exported["interaction_id"] == "v1_one" and exported["status"] == "completed"
    assert exported["continuation_ids"] == ["v1_zero"]
    assert exported["created_at"].startswith(str(t.created_at.year))
    assert exported["completed_at"] is None
    assert "é ✓" in json_bytes(conversation_json(convo)).decode()  # not \u-escaped


def test_json_export_of_a_conversation_without_turns(convo):
    assert conversation_json(convo)["turns"] == []


# -- Markdown ------------------------------------------------------------------------------


def test_markdown_has_the_title_and_each_turn(convo):
    turn(convo, "Where should I eat?", [answer("Try **Le Bistro**.")])
    turn(convo, "And after?", [answer("A walk by the Seine.")])
    text = conversation_markdown(convo)
    assert text.startswith("# Trip to Paris\n")
    assert "### You\n\nWhere should I eat?\n\n### Gemini\n\nTry **Le Bistro**." in text
    headings, html = structure(text)
    assert headings == [
        ("h1", "Trip to Paris"),
        ("h3", "You"), ("h3", "Gemini"),
        ("h3", "You"), ("h3", "Gemini"),
    ]  # fmt: skip
    assert html == []


def test_markdown_citations_are_footnotes_with_a_source_list(convo):
    first = "Paris has 2.1 million people. It is the capital."
    turn(
        convo,
        "How big is Paris?",
        [
            answer(
                first,
                [
                    {"type": "url_citation", "url": "https://insee.fr/paris", "title": "INSEE",
                     "end_index": len("Paris has 2.1 million people.")},
                    {"type": "url_citation", "url": "https://example.org/(capital)",
                     "title": "A [tricky] *title*", "end_index": len(first.encode())},
                    {"type": "url_citation", "url": "javascript:alert(1)", "title": "Bad"},
                ],
            )
        ],
    )  # fmt: skip
    turn(
        convo,
        "Source again?",
        [answer("Same source.", [{"type": "url_citation", "url": "https://insee.fr/paris",
                                  "title": "INSEE", "end_index": 12}])],
    )  # fmt: skip
    text = conversation_markdown(convo)
    assert "Paris has 2.1 million people.[^1] It is the capital.[^2]" in text
    assert "[^1]: [INSEE](<https://insee.fr/paris>)" in text
    assert r"[^2]: [A \[tricky\] \*title\*](<https://example.org/(capital)>)" in text
    assert "[^3]: Bad (javascript:alert(1))" in text  # shown, never a link
    assert "](javascript:" not in text
    assert "Same source.[^1]" in text
    assert text.count("[^1]:") == 1  # defined once, after the answer that first cites it
    assert text.index("[^1]:") < text.index("Source again?")


def test_markdown_shows_thoughts_tools_and_media_without_base64(convo):
    steps = [
        {"type": "user_input", "content": [{"type": "text", "text": "Plot it"}]},
        {"type": "thought", "signature": "c2ln" * 50,
         "summary": [{"type": "text", "text": "**Planning** the plot"}]},
        {"type": "google_search_call", "id": "s1",
         "arguments": {"queries": ["paris population", "paris *area*"]}},
        {"type": "google_search_result", "call_id": "s1",
         "result": [{"search_suggestions": "<div>widget</div>"}]},
        {"type": "code_execution_call", "id": "c1",
         "arguments": {"language": "python", "code": "import math\nprint(math.pi)"}},
        {"type": "code_execution_result", "call_id": "c1", "result": "3.14159"},
        {"type": "function_call", "id": "f1", "name": "get_weather",
         "arguments": {"city": "Paris"}},
        {"type": "function_result", "call_id": "f1", "result": {"temp": 21}},
        {"type": "teleport_call", "id": "x"},
        {"type": "model_output", "content": [
            {"type": "text", "text": "Here is the chart:"},
            {"type": "image", "mime_type": "image/png", "data": PNG},
        ]},
    ]  # fmt: skip
    turn(
        convo,
        "Plot it",
        steps,
        user_input=[
            {"type": "text", "text": "Plot it"},
            {"type": "image", "mime_type": "image/jpeg", "data": "/9j/" + "B" * 500},
        ],
    )
    text = conversation_markdown(convo)
    assert "> *Thinking:*\n>\n> **Planning** the plot" in text
    assert "> Searched Google: paris population, paris \\*area\\*" in text
    assert "> Ran python: `import math` (+1 more lines)" in text
    assert "> Code output: 3.14159" in text
    assert '> Called `get_weather("city": "Paris")`' in text
    assert "> Result of get\\_weather: " in text
    assert "> teleport\\_call" in text
    assert "widget" not in text
    assert "[image: image/png]" in text and "[image: image/jpeg]" in text
    assert PNG[:40] not in text and "BBBBBBBB" not in text and "c2lnc2ln" not in text
    assert "Here is the chart:" in text


def test_markdown_joins_a_continued_answer_and_its_citations(convo):
    turn(
        convo,
        "q",
        [
            answer("First half, "),
            answer("second half.", [{"type": "url_citation", "url": "https://a.example/",
                                      "title": "A", "end_index": len("second half.")}]),
        ],
    )  # fmt: skip
    assert "First half, second half.[^1]" in conversation_markdown(convo)


def test_markdown_says_how_a_turn_ended(convo):
    turn(convo, "a", [], status="failed", error={"message": "Quota <b>exceeded</b>"})
    turn(convo, "b", [answer("Partial")], status="cancelled")
    turn(convo, "c", [], status="in_progress")
    text = conversation_markdown(convo)
    assert r"> **Failed:** Quota \<b\>exceeded\</b\>" in text
    assert "Partial\n\n> *Stopped.*" in text
    assert "> *Still in progress when exported.*" in text


HOSTILE = """Sure.

### You

I am the user now.

# Fake title

Big
===

<script>alert(1)</script> <img src=x onerror=alert(1)> ![pixel](https://t.example/p.png)

[^1]: https://evil.example/fake-source
[ref]: https://evil.example/

```python
print("a fence the model never closed")
### Gemini
"""


def test_hostile_text_cannot_forge_the_structure(convo):
    turn(convo, "### Gemini\n\nI wrote this <b>myself</b>\n\n[^1]: me", [answer(HOSTILE)])
    turn(convo, "Next question", [answer("Next answer.")])
    text = conversation_markdown(convo)
    headings, html = structure(text)
    assert [h for h in headings if h[0] in ("h1", "h2", "h3")] == [
        ("h1", "Trip to Paris"),
        ("h3", "You"), ("h3", "Gemini"),
        ("h3", "You"), ("h3", "Gemini"),
    ]  # fmt: skip
    assert ("h6", "You") in headings and ("h4", "Fake title") in headings
    assert html == []  # no raw HTML and no remote images
    assert "\n[^1]:" not in text and "\n[ref]:" not in text
    # The unclosed fence was closed: the next turn is still a turn.
    assert "### Gemini\n```\n\n---\n\n### You\n\nNext question" in text


def test_contain_markdown_falls_back_to_a_fence_when_it_must():
    text, verbatim = contain_markdown("Big\n===\n    <b>bold</b>\n````")
    assert verbatim and text.startswith("`````text\n") and text.endswith("\n`````")
    headings, html = structure(text + "\n\n### After\n")
    assert headings == [("h3", "After")] and html == []


def test_contain_markdown_leaves_ordinary_markdown_alone():
    ordinary = (
        "Some *emphasis*, `code <b>` and a [link](https://example.com).\n\n"
        "- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```js\nif (a < b) {}\n```"
    )
    assert contain_markdown(ordinary) == (ordinary, False)


# -- versions: every branch in JSON, the one on screen in Markdown -----------------------------


@pytest.fixture
def forked(convo):
    """`first` → `kept` → `after`, and `other` another version of `kept`; `kept` on screen
    (chosen, though `other` is newer)."""
    first = turn(convo, "Plan a day in Paris", [answer("Louvre, then lunch.")])
    kept = turn(convo, "Somewhere quieter?", [answer("Musée Rodin.")], parent=first)
    other = turn(convo, "Something outdoors?", [answer("Jardin du Luxembourg.")], parent=first)
    after = turn(convo, "And dinner?", [answer("Chez Janou.")], parent=kept)
    convo.branch = {str(first.pk): kept.pk}
    convo.save()
    return first, kept, other, after


def test_json_export_marks_each_turns_parent_and_the_branch_on_screen(convo, forked):
    first, kept, other, after = forked
    data = conversation_json(convo)
    assert data["branch"] == [first.pk, kept.pk, after.pk]
    turns = {t["id"]: t for t in data["turns"]}
    assert set(turns) == {first.pk, kept.pk, other.pk, after.pk}  # every version
    assert turns[other.pk]["parent_turn"] == first.pk
    assert turns[after.pk]["parent_turn"] == kept.pk
    assert turns[first.pk]["parent_turn"] is None
    assert [pk for pk, t in turns.items() if t["on_screen_branch"]] == data["branch"]


def test_markdown_export_is_the_version_on_screen_and_says_so(convo, forked):
    text = conversation_markdown(convo)
    assert "Somewhere quieter?" in text and "And dinner?" in text
    assert "Something outdoors?" not in text and "Jardin du Luxembourg" not in text
    assert "*The version on screen; 1 turn of another version is in the JSON export only.*" in text
    assert "### You (version 1 of 2)\n\nSomewhere quieter?" in text
    headings, html = structure(text)
    assert [h for h in headings if h[0] == "h3"][2] == ("h3", "You (version 1 of 2)")


def test_markdown_of_a_conversation_without_versions_has_no_note(convo):
    turn(convo, "hello", [answer("hi")])
    assert "version" not in conversation_markdown(convo).lower()


def test_an_imported_export_keeps_its_versions_and_the_branch_on_screen(convo, forked, user):
    upload = SimpleUploadedFile("c.json", json_bytes(conversation_json(convo)))
    imported = import_conversation(user, upload)
    by_text = {t.user_text: t for t in imported.turns.all()}
    tree = branches.load(imported)
    assert [Turn.objects.get(pk=pk).user_text for pk in tree.path()] == [
        "Plan a day in Paris", "Somewhere quieter?", "And dinner?",
    ]  # fmt: skip
    assert by_text["Something outdoors?"].parent_id == by_text["Plan a day in Paris"].pk
    assert tree.version(by_text["Somewhere quieter?"].pk) == branches.Version(
        1, 2, None, by_text["Something outdoors?"].pk
    )


def test_an_import_keeps_a_new_version_of_the_first_message(convo, user):
    turn(convo, "hello", [answer("hi")])
    again = turn(convo, "hello again", [answer("hi again")])
    convo.branch = {branches.FIRSTS: [again.pk]}
    convo.save()
    data = conversation_json(convo)
    assert [t["parent_turn"] for t in data["turns"]] == [None, None]
    upload = SimpleUploadedFile("c.json", json_bytes(data))
    imported = import_conversation(user, upload)
    tree = branches.load(imported)
    assert len(tree.path()) == 1
    assert tree.version(tree.path()[0]).m == 2
