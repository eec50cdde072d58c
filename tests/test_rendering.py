"""The step renderer: every step type, live and final; citations; media URLs; hostile content."""

import base64
import hashlib
import json
import re
import time
from html.parser import HTMLParser

import pytest

from chatsite.chat.rendering import media_url, render_step, render_steps
from chatsite.chat.rendering.markdown import MAX_HIGHLIGHT_CHARS, render_markdown, sanitise
from chatsite.chat.rendering.mathml import MAX_MATH_CHARS, MAX_MATH_TOTAL
from chatsite.chat.rendering.steps import MAX_JSON_CHARS

from .seeds import guide_examples

TURN = 7
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
    )
).decode()


# -- a small DOM of the output, to check what is live markup --------------------------------


class Element:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children: list = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag=None, **attrs):
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


VOID = {"br", "hr", "img", "input", "meta", "link", "source", "wbr", "base"}


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        el = Element(tag, attrs, self.cur)
        self.cur.children.append(el)
        if tag not in VOID:
            self.cur = el

    def handle_endtag(self, tag):
        node = self.cur
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.cur = node.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(html) -> Element:
    tree = _Tree()
    tree.feed(str(html))
    tree.close()
    return tree.root


def root_of(html) -> Element:
    elements = [c for c in parse(html).children if isinstance(c, Element)]
    assert len(elements) == 1, [e.tag for e in elements]
    return elements[0]


BAD_SCHEMES = ("javascript:", "data:", "vbscript:")


def assert_inert(html):
    """No script, no handler, no script URL, no frame other than the sandboxed suggestions."""
    for el in parse(html).iter():
        if el.tag == "svg":  # only the app's own icons: one <use> of a symbol of its sprite
            assert "icon" in el.attrs.get("class", "").split(), el.attrs
            children = [c for c in el.children if isinstance(c, Element)]
            assert [c.tag for c in children] == ["use"], [c.tag for c in children]
            href = children[0].attrs.get("href", "")
            assert re.fullmatch(r"/static/chatsite/icons(\.[0-9a-f]+)?\.svg#[a-z-]+", href), href
            continue
        if el.tag == "use":
            assert el.parent is not None and el.parent.tag == "svg", "a <use> outside an icon"
            continue
        assert el.tag not in {"script", "object", "embed", "style", "form"}, el.tag
        for name, value in el.attrs.items():
            assert not name.startswith("on"), (el.tag, name, value)
            if name in {"href", "src", "action", "formaction", "xlink:href", "poster"}:
                v = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
                assert not v.startswith(BAD_SCHEMES), (el.tag, name, value)
            assert name != "srcdoc", "the snippet is framed from our own URL, never inlined"
        if el.tag == "iframe":
            sandbox = el.attrs.get("sandbox")
            assert sandbox is not None
            assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
            assert "search-suggestions" in el.attrs.get("class", "")
            assert re.fullmatch(r"/media/t/\d+/[0-9a-f]{32}/suggestions/", el.attrs["src"])


def render(step, *, live=False, index=3, **kw):
    html = render_step(step, turn_id=TURN, index=index, live=live, **kw)
    assert_inert(html)
    return html


def text_step(text, annotations=None):
    block = {"type": "text", "text": text}
    if annotations is not None:
        block["annotations"] = annotations
    return {"type": "model_output", "content": [block]}


def end_of(text, sub) -> int:
    """The byte offset just after the first `sub` in `text`."""
    return len(text[: text.index(sub) + len(sub)].encode("utf-8"))


# -- every step type, final and live --------------------------------------------------------

STEPS = {
    "user_input": (
        {"type": "user_input", "content": [{"type": "text", "text": "What is 2+2?"}]},
        ["What is 2+2?"],
    ),
    "model_output": (text_step("Hello **world**"), ["<strong>world</strong>"]),
    "thought": (
        {
            "type": "thought",
            "signature": "EvEFCu4F",
            "summary": [{"type": "text", "text": "Considering *options*"}],
        },
        ["Thinking", "<em>options</em>"],
    ),
    "function_call": (
        {
            "type": "function_call",
            "id": "call_abc123",
            "name": "get_current_temperature",
            "arguments": {"location": "London"},
        },
        ["get_current_temperature", "&quot;location&quot;: &quot;London&quot;"],
    ),
    "function_result": (
        {
            "type": "function_result",
            "call_id": "call_abc123",
            "name": "get_current_temperature",
            "result": {"temperature": "22", "unit": "celsius"},
        },
        ["get_current_temperature", "&quot;unit&quot;: &quot;celsius&quot;"],
    ),
    "code_execution_call": (
        {
            "type": "code_execution_call",
            "id": "code_1",
            "arguments": {"code": "print(sum(range(10)))", "language": "python"},
        },
        ["python", 'class="hl-nb">print</span>'],
    ),
    "code_execution_result": (
        {"type": "code_execution_result", "call_id": "code_1", "result": "45\n"},
        ["45", 'class="output'],
    ),
    "url_context_call": (
        {
            "type": "url_context_call",
            "id": "url_1",
            "arguments": {"urls": ["https://example.com/a", "https://example.org/b"]},
        },
        ['href="https://example.com/a"', "example.org"],
    ),
    "url_context_result": (
        {
            "type": "url_context_result",
            "call_id": "url_1",
            "result": [
                {"url": "https://example.com/a", "status": "success"},
                {"url": "https://example.org/b", "status": "paywall"},
            ],
        },
        ["status-success", "status-paywall", "1 success · 1 paywall"],
    ),
    "google_search_call": (
        {
            "type": "google_search_call",
            "id": "search_001",
            "arguments": {"queries": ["UEFA Euro 2024 winner", "Euro 2024 final score"]},
        },
        ['class="chip"', "UEFA Euro 2024 winner", "Euro 2024 final score"],
    ),
    "google_search_result": (
        {
            "type": "google_search_result",
            "call_id": "search_001",
            "result": [
                {"search_suggestions": '<div class="chips"><a href="https://g.co/x">chip</a></div>'}
            ],
        },
        ['class="search-suggestions"', 'src="/media/t/'],
    ),
    "file_search_call": ({"type": "file_search_call", "id": "fs_1"}, ["Searched your files"]),
    "file_search_result": (
        {
            "type": "file_search_result",
            "call_id": "fs_1",
            "result": [{"title": "handbook.pdf", "text": "Holidays are 25 days."}],
        },
        ["handbook.pdf", "Holidays are 25 days."],
    ),
    "google_maps_call": (
        {"type": "google_maps_call", "id": "maps_1", "arguments": {"queries": ["pizza near me"]}},
        ["pizza near me"],
    ),
    "google_maps_result": (
        {
            "type": "google_maps_result",
            "call_id": "maps_1",
            "result": [
                {
                    "places": [
                        {
                            "name": "Pizzeria Uno",
                            "place_id": "places/abc",
                            "url": "https://maps.google.com/?cid=1",
                            "review_snippets": [
                                {"title": "Great crust", "url": "https://maps.google.com/r/1"}
                            ],
                        }
                    ]
                }
            ],
        },
        ['href="https://maps.google.com/?cid=1"', "Pizzeria Uno", "Great crust", "Google Maps"],
    ),
    "mcp_server_tool_call": (
        {
            "type": "mcp_server_tool_call",
            "id": "mcp_1",
            "name": "list_issues",
            "server_name": "github",
            "arguments": {"repo": "a/b"},
        },
        ["github", "list_issues", "&quot;repo&quot;"],
    ),
    "mcp_server_tool_result": (
        {
            "type": "mcp_server_tool_result",
            "call_id": "mcp_1",
            "name": "list_issues",
            "server_name": "github",
            "result": "3 open issues",
        },
        ["3 open issues", "list_issues"],
    ),
    "retrieval_call": (
        {
            "type": "retrieval_call",
            "id": "ret_1",
            "retrieval_type": "vertex_ai_search",
            "arguments": {"queries": ["leave policy"]},
        },
        ["Vertex AI Search", "leave policy"],
    ),
    "retrieval_result": (
        {"type": "retrieval_result", "call_id": "ret_1", "is_error": True},
        ["Retrieval result", "is-error"],
    ),
    "processing_call": ({"type": "processing_call", "id": "p_1"}, ["Processed media"]),
    "processing_result": ({"type": "processing_result", "call_id": "p_1"}, ["processing done"]),
    "computer_use_call": (
        {"type": "computer_use_call", "id": "cu_1", "action": {"click": [1, 2]}},
        ["computer_use_call", "&quot;click&quot;"],
    ),
}


def test_the_table_covers_all_21_step_types_and_an_unknown_one():
    assert len(STEPS) == 22


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_every_step_type_renders_final(kind):
    step, expected = STEPS[kind]
    html = render(step)
    root = root_of(html)
    assert root.attrs["id"] == f"s-{TURN}-3"
    assert root.attrs["data-step-type"] == kind
    # The runner inserts hx-swap-oob before the first ">": it must end the root's opening tag.
    swapped = html.replace(">", ' hx-swap-oob="outerHTML">', 1)
    assert root_of(swapped).attrs["hx-swap-oob"] == "outerHTML"
    for fragment in expected:
        assert fragment in html, fragment
    assert "working…" not in html and "thinking…" not in html


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_every_step_type_renders_live(kind):
    step, _ = STEPS[kind]
    html = render(step, live=True)
    root = root_of(html)
    assert root.attrs["id"] == f"s-{TURN}-3" and root.attrs["data-step-type"] == kind
    assert "is-live" in root.attrs["class"]
    if kind in {"model_output", "thought"}:
        stream = root.find_all(id=f"st-{TURN}-3")
        assert len(stream) == 1
    else:
        assert "working…" in html


def test_live_model_output_shell_carries_the_text_so_far_escaped():
    html = render(text_step("so far <b>x</b>"), live=True)
    shell = f'<div class="md stream-text" id="st-{TURN}-3" dir="auto">'
    assert shell + "so far &lt;b&gt;x&lt;/b&gt;</div>" in html


def test_live_thought_says_thinking_and_has_the_stream_element():
    html = render({"type": "thought", "summary": [{"type": "text", "text": "Plan"}]}, live=True)
    root = root_of(html)
    assert root.tag == "details" and "open" not in root.attrs
    assert "thinking…" in root.find_all("summary")[0].text()
    assert root.find_all(id=f"st-{TURN}-3")[0].text() == "Plan"


def test_thought_is_collapsed_with_a_thinking_label():
    root = root_of(render(STEPS["thought"][0]))
    assert root.tag == "details" and "open" not in root.attrs
    assert root.find_all("summary")[0].text().strip() == "Thinking"


def test_thought_without_summary_says_so():
    assert "gave no summary" in render({"type": "thought", "signature": "abc"})


def test_live_function_call_hides_arguments_until_complete():
    step = dict(STEPS["function_call"][0], arguments={"location": "Lon"})
    live = render(step, live=True)
    assert "Lon" not in live and "Receiving arguments" in live
    assert "&quot;Lon&quot;" in render(step)


def test_function_call_arguments_still_a_string_are_pretty_printed():
    step = dict(STEPS["function_call"][0], arguments='{"a": [1, 2]}')
    assert "&quot;a&quot;: [\n" in render(step)


def test_errors_are_styled():
    html = render(
        {"type": "code_execution_result", "call_id": "c", "result": "Boom", "is_error": True}
    )
    root = root_of(html)
    assert "is-error" in root.attrs["class"]
    assert "Code error" in html
    fr = render({"type": "function_result", "call_id": "c", "result": "nope", "is_error": True})
    assert "is-error" in root_of(fr).attrs["class"]


def test_model_output_error_is_shown():
    html = render({"type": "model_output", "content": [], "error": {"message": "Blocked <x>"}})
    assert 'role="alert"' in html and "Blocked &lt;x&gt;" in html


def test_unknown_step_is_a_readable_json_card_titled_with_its_type():
    html = render({"type": "brand_new_step", "payload": {"x": "<b>1</b>"}})
    root = root_of(html)
    assert root.attrs["data-step-type"] == "brand_new_step"
    assert "brand_new_step" in root.find_all("summary")[0].text()
    assert "&lt;b&gt;1&lt;/b&gt;" in html


def test_step_type_breakout_stays_in_its_attribute():
    html = render({"type": '"><script>alert(1)</script>'})
    assert root_of(html).attrs["data-step-type"] == '"><script>alert(1)</script>'


@pytest.mark.parametrize("step", [None, "text", 42, {"type": None}, {"type": ["x"]}, {}])
def test_malformed_steps_never_crash(step):
    html = render(step)
    assert root_of(html).attrs["id"] == f"s-{TURN}-3"


@pytest.mark.parametrize(
    "step",
    [
        {"type": "model_output", "content": "not a list"},
        {"type": "model_output", "content": [None, 3, {"type": "text", "text": None}]},
        {"type": "model_output", "content": [{"type": "text", "text": "x", "annotations": "?"}]},
        {"type": "thought", "summary": {"a": 1}},
        {"type": "google_search_call", "arguments": ["x"]},
        {"type": "google_search_result", "result": "x"},
        {"type": "url_context_result", "result": [None, "x", {"url": 3, "status": None}]},
        {"type": "google_maps_result", "result": [{"places": [None, {"name": ["x"]}]}]},
        {"type": "function_call", "name": None, "arguments": "{broken"},
        {"type": "function_result", "result": [{"type": "image"}, {"type": "mystery"}]},
        {"type": "code_execution_call", "arguments": {"code": 5, "language": ["x"]}},
    ],
)
def test_malformed_fields_never_crash(step):
    render(step)
    render(step, live=True)


def test_unknown_content_block_is_a_json_card():
    step = {"type": "model_output", "content": [{"type": "hologram", "depth": 3}]}
    root = root_of(render(step))
    (card,) = root.find_all("details", data_block_type="hologram")
    assert "depth" in card.text()


def test_json_is_truncated():
    step = {"type": "function_call", "id": "x", "name": "f", "arguments": {"blob": "y" * 100_000}}
    html = render(step)
    assert "(truncated)" in html and len(html) < MAX_JSON_CHARS + 5_000


def test_base64_in_json_cards_is_summarised():
    html = render({"type": "mystery", "data": "QUJD" * 1000})
    assert "QUJDQUJD" not in html and "characters of base64" in html


# -- render_steps ---------------------------------------------------------------------------


def test_render_steps_hides_user_input_and_keeps_indices():
    steps = [STEPS["user_input"][0], STEPS["model_output"][0]]
    html = render_steps(steps, turn_id=TURN)
    assert 'data-step-type="user_input"' not in html
    assert f'id="s-{TURN}-1"' in html


def test_result_card_says_which_call_it_answers():
    steps = [STEPS["google_search_call"][0], STEPS["google_search_result"][0]]
    html = render_steps(steps, turn_id=TURN)
    assert_inert(html)
    result = parse(html).find_all(data_step_type="google_search_result")[0]
    (answers,) = [p for p in result.find_all("p") if "card-answers" in p.attrs.get("class", "")]
    assert "UEFA Euro 2024 winner" in answers.text()
    assert answers.find_all("a")[0].attrs["href"] == f"#s-{TURN}-0"


def test_function_result_without_a_name_takes_the_calls_name():
    call = STEPS["function_call"][0]
    result = {"type": "function_result", "call_id": "call_abc123", "result": "ok"}
    html = render_steps([call, result], turn_id=TURN)
    part = html[html.index('data-step-type="function_result"') :]
    assert "Result of get_current_temperature" in part


def test_live_indices_render_as_shells():
    html = render_steps({1: text_step("abc")}, turn_id=TURN, live_indices={1})
    assert f'id="st-{TURN}-1"' in html


# -- citations ------------------------------------------------------------------------------


def markers(html) -> list[Element]:
    return [a for a in parse(html).find_all("a") if "data-citation" in a.attrs]


def test_citation_markers_are_numbered_and_link_to_their_source():
    text = "Spain won Euro 2024. England lost the final. Spain won four titles."
    html = render(
        text_step(
            text,
            [
                {
                    "type": "url_citation",
                    "url": "https://uefa.com/a",
                    "title": "UEFA",
                    "start_index": 0,
                    "end_index": end_of(text, "2024."),
                },
                {
                    "type": "url_citation",
                    "url": "https://bbc.co.uk/b",
                    "title": "BBC",
                    "end_index": end_of(text, "final."),
                },
                {
                    "type": "url_citation",
                    "url": "https://uefa.com/a",
                    "title": "UEFA",
                    "end_index": end_of(text, "titles."),
                },
            ],
        )
    )
    found = markers(html)
    assert [(a.attrs["data-citation"], a.attrs["href"]) for a in found] == [
        ("1", "https://uefa.com/a"),
        ("2", "https://bbc.co.uk/b"),
        ("1", "https://uefa.com/a"),
    ]
    assert all(a.text() == f"[{a.attrs['data-citation']}]" for a in found)
    assert all(a.parent.tag == "sup" for a in found)
    assert all(a.attrs["rel"] == "noopener noreferrer nofollow" for a in found)
    assert all(a.attrs["target"] == "_blank" for a in found)
    assert "2024.<sup" in html and "final.<sup" in html and "titles.<sup" in html
    (sources,) = parse(html).find_all("ol")
    assert "sources" in sources.attrs["class"]
    items = sources.find_all("li")
    assert [li.attrs["value"] for li in items] == ["1", "2"]
    assert "UEFA" in items[0].text() and "uefa.com" in items[0].text()
    assert items[1].find_all("a")[0].attrs["href"] == "https://bbc.co.uk/b"
    assert "bbc.co.uk" in items[1].text()


@pytest.mark.parametrize(
    "text,after",
    [
        ("Party 🎉🎉 time. Next.", "time."),
        ("Family 👨‍👩‍👧 here. Next.", "👨‍👩‍👧"),
        ("東京は日本の首都です。大阪も大きい。", "首都です。"),
        ("שלום עולם. مرحبا بالعالم. Done.", "مرحبا بالعالم."),
        ("Ünïcödé wörds ñ. Then more.", "wörds ñ."),
    ],
)
def test_byte_offsets_map_to_characters_in_multibyte_text(text, after):
    html = render(
        text_step(
            text,
            [{"type": "url_citation", "url": "https://s.org", "end_index": end_of(text, after)}],
        )
    )
    assert f"{after}<sup" in html


def test_an_offset_inside_a_character_moves_to_its_end():
    text = "Tea 🍵 and cake."
    mid = end_of(text, "🍵") - 2
    html = render(
        text_step(text, [{"type": "url_citation", "url": "https://s.org", "end_index": mid}])
    )
    assert "🍵<sup" in html and "\ufffd" not in html


def test_out_of_range_and_missing_offsets_do_not_crash_and_still_cite():
    text = "Short answer."
    anns = [
        {"type": "url_citation", "url": "https://a.org", "end_index": 10**9},
        {"type": "url_citation", "url": "https://b.org", "end_index": -4},
        {"type": "url_citation", "url": "https://c.org"},
        {"type": "url_citation", "url": "https://d.org", "end_index": "x"},
        {"type": "url_citation", "url": "https://e.org", "start_index": 9, "end_index": 3},
    ]
    html = render(text_step(text, anns))
    assert sorted(a.attrs["href"] for a in markers(html)) == [f"https://{c}.org" for c in "abcde"]
    assert "answer.<sup" in html


def test_overlapping_citations_at_one_spot_show_each_source_once():
    text = "One claim."
    e = end_of(text, "claim.")
    anns = [
        {"type": "url_citation", "url": "https://a.org", "start_index": 0, "end_index": e},
        {"type": "url_citation", "url": "https://b.org", "start_index": 4, "end_index": e},
        {"type": "url_citation", "url": "https://a.org", "start_index": 0, "end_index": e},
    ]
    html = render(text_step(text, anns))
    assert [a.attrs["data-citation"] for a in markers(html)] == ["1", "2"]


def test_markers_stay_out_of_links_code_fences_and_tables():
    text = (
        "See [the docs](https://docs.example/path) here and `inline code` too.\n\n"
        "```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    anns = [
        {"type": "url_citation", "url": "https://a.org", "end_index": end_of(text, "the do")},
        {"type": "url_citation", "url": "https://b.org", "end_index": end_of(text, "docs.exa")},
        {"type": "url_citation", "url": "https://c.org", "end_index": end_of(text, "inline co")},
        {"type": "url_citation", "url": "https://d.org", "end_index": end_of(text, "print(")},
        {"type": "url_citation", "url": "https://e.org", "end_index": end_of(text, "|---")},
        {"type": "url_citation", "url": "https://f.org", "end_index": end_of(text, "| 2 |")},
    ]
    html = render(text_step(text, anns))
    tree = parse(html)
    assert len(markers(html)) == 6
    for tag in ("pre", "code"):
        for el in tree.find_all(tag):
            assert not [a for a in el.find_all("a") if "data-citation" in a.attrs]
    (doc_link,) = [a for a in tree.find_all("a") if a.text() == "the docs"]
    assert doc_link.attrs["href"] == "https://docs.example/path"
    assert not doc_link.find_all("a")
    assert "print(&#x27;hi&#x27;)" in html or "print" in tree.find_all("pre")[0].text()
    assert "print('hi')" in tree.find_all("pre")[0].text().replace("\n", "")
    # the fence and the table still render as a fence and a table
    assert tree.find_all("table") and tree.find_all("pre")
    assert not re.search(r"zq[a-z]{12}[a-z]{4}qz", html)  # no token left anywhere


def test_citation_title_breakout_stays_inert_text():
    evil = '"><svg onload=alert(1)><img src=x onerror=alert(2)>'
    text = "Claim."
    html = render(
        text_step(
            text, [{"type": "url_citation", "url": "https://a.org", "title": evil, "end_index": 6}]
        )
    )
    (marker,) = markers(html)
    assert marker.attrs["title"] == evil
    assert evil in parse(html).find_all("ol")[0].text()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "/relative",
        "https:\\\\evil",
        "ftp://x.org/f",
    ],
)
def test_citation_urls_that_are_not_http_are_text_not_links(url):
    html = render(
        text_step("Claim.", [{"type": "url_citation", "url": url, "title": "T", "end_index": 6}])
    )
    (marker,) = markers(html)
    assert "href" not in marker.attrs and marker.text() == "[1]"
    (item,) = parse(html).find_all("ol")[0].find_all("li")
    assert not item.find_all("a")


def test_place_citation_source_has_name_maps_attribution_and_reviews():
    name = 'Café "Zur Post"><script>alert(1)</script>'
    ann = {
        "type": "place_citation",
        "name": name,
        "place_id": "places/ChIJ",
        "url": "https://maps.google.com/?cid=42",
        "review_snippets": [
            {"title": "Lovely cake", "url": "https://maps.google.com/review/1"},
            {"title": "Bad link", "url": "javascript:alert(1)"},
        ],
        "end_index": 5,
    }
    html = render(text_step("Go there.", [ann]))
    (marker,) = markers(html)
    assert marker.attrs["href"] == "https://maps.google.com/?cid=42"
    (item,) = parse(html).find_all("ol")[0].find_all("li", **{"class": "source source-place"})
    assert name in item.text() and "Google Maps" in item.text()
    links = {a.text(): a.attrs["href"] for a in item.find_all("a")}
    assert links[name] == "https://maps.google.com/?cid=42"
    assert links["Lovely cake"] == "https://maps.google.com/review/1"
    assert "Bad link" not in links and "Bad link" in item.text()


def test_file_citation_shows_file_and_page_and_links_only_http_documents():
    anns = [
        {
            "type": "file_citation",
            "file_name": "handbook.pdf",
            "document_uri": "gs://b/h.pdf",
            "page_number": 12,
            "end_index": 4,
        },
        {
            "type": "file_citation",
            "file_name": "web.pdf",
            "document_uri": "https://x.org/w.pdf",
            "page_number": 2,
            "end_index": 9,
        },
    ]
    html = render(text_step("One. Two.", anns))
    first, second = markers(html)
    assert "href" not in first.attrs and first.attrs["data-citation"] == "1"
    assert second.attrs["href"] == "https://x.org/w.pdf"
    items = parse(html).find_all("ol")[0].find_all("li")
    assert "handbook.pdf" in items[0].text() and "page 12" in items[0].text()
    assert "page 2" in items[1].text()


def test_speech_metadata_and_word_info_do_not_become_citations():
    anns = [
        {"type": "speech_metadata", "speaker": "Narrator", "style": "calm"},
        {"type": "word_info", "text": "Hi", "start_offset": "0s", "end_offset": "0.2s"},
        {"type": "brand_new_annotation", "end_index": 1},
    ]
    html = render(text_step("Hi there.", anns))
    assert not markers(html) and "sources" not in html
    assert "Narrator · calm" in html


def test_citations_number_across_the_blocks_of_a_step():
    step = {
        "type": "model_output",
        "content": [
            {
                "type": "text",
                "text": "A.",
                "annotations": [{"type": "url_citation", "url": "https://a.org", "end_index": 2}],
            },
            {
                "type": "text",
                "text": "B.",
                "annotations": [
                    {"type": "url_citation", "url": "https://b.org", "end_index": 2},
                    {"type": "url_citation", "url": "https://a.org", "end_index": 2},
                ],
            },
        ],
    }
    html = render(step)
    assert [a.attrs["data-citation"] for a in markers(html)] == ["1", "2", "1"]
    assert len(parse(html).find_all("ol")[0].find_all("li")) == 2


# -- hostile content ------------------------------------------------------------------------

HOSTILE_MARKDOWN = """\
<script>alert(1)</script>
<img src=x onerror=alert(1)>
<iframe src="https://evil.example"></iframe>
[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) [vb](vbscript:x)
![img](javascript:alert(1)) ![pixel](https://tracker.example/p.gif)
<a href="javascript:alert(1)" onclick="x()">raw</a>
[ok](https://fine.example/ "t\\" onmouseover=\\"alert(1)")
\u202eevil\u202c text with emoji 🎉 and RTL שלום
"""


def test_hostile_markdown_is_inert():
    html = render(text_step(HOSTILE_MARKDOWN))
    tree = parse(html)
    assert not tree.find_all("img") and not tree.find_all("iframe")
    hrefs = [a.attrs.get("href") for a in tree.find_all("a")]
    assert "https://fine.example/" in hrefs
    assert "&lt;script&gt;" in html  # shown as text
    assert "\u202eevil\u202c" in html and "🎉" in html and "שלום" in html


def test_bidi_overrides_are_dropped_from_labels_but_rtl_text_stays():
    spoof = "invoice\u202efdp.exe"
    ann = {"type": "url_citation", "url": "https://a.org", "title": spoof, "end_index": 4}
    html = render(text_step("Yes.", [ann]))
    assert "invoicefdp.exe" in html and "\u202e" not in html
    place = {
        "type": "google_maps_result",
        "call_id": "m",
        "result": [
            {"places": [{"name": "\u202dשלום\u202c 🎉", "url": "https://maps.google.com/?cid=1"}]}
        ],
    }
    html = render(place)
    assert "שלום 🎉" in html and "\u202d" not in html and "\u202c" not in html


def test_hostile_markdown_in_a_thought_is_inert():
    render({"type": "thought", "summary": [{"type": "text", "text": HOSTILE_MARKDOWN}]})


def test_hostile_tool_fields_are_inert():
    evil = '"><script>alert(1)</script><img src=x onerror=alert(1)>'
    steps = [
        {"type": "function_call", "id": evil, "name": evil, "arguments": {evil: evil}},
        {"type": "function_result", "call_id": evil, "name": evil, "result": evil},
        {"type": "function_result", "call_id": "x", "result": [{"type": "text", "text": evil}]},
        {"type": "code_execution_call", "id": "c", "arguments": {"code": evil, "language": evil}},
        {"type": "code_execution_result", "call_id": "c", "result": evil, "is_error": True},
        {
            "type": "url_context_call",
            "id": "u",
            "arguments": {"urls": ["javascript:alert(1)", evil]},
        },
        {
            "type": "url_context_result",
            "call_id": "u",
            "result": [{"url": "data:text/html,x", "status": evil}],
        },
        {
            "type": "google_search_call",
            "id": "g",
            "arguments": {"queries": [evil]},
            "search_type": evil,
        },
        {
            "type": "google_maps_result",
            "call_id": "m",
            "result": [
                {
                    "places": [
                        {
                            "name": evil,
                            "url": "javascript:x",
                            "review_snippets": [{"title": evil, "url": "vbscript:x"}],
                        }
                    ]
                }
            ],
        },
        {
            "type": "file_search_result",
            "call_id": "f",
            "result": [{"title": evil, "text": evil, "uri": "javascript:x"}],
        },
        {
            "type": "mcp_server_tool_call",
            "id": "p",
            "name": evil,
            "server_name": evil,
            "arguments": {},
        },
        {"type": "mcp_server_tool_result", "call_id": "p", "result": {"html": evil}},
        {
            "type": "retrieval_call",
            "id": "r",
            "retrieval_type": evil,
            "arguments": {"queries": [evil]},
        },
        {"type": evil, "x": evil},
    ]
    for step in steps:
        for live in (False, True):
            html = render(step, live=live)
            assert "<script>" not in html and "<img" not in html


def test_search_suggestions_live_only_in_a_sandboxed_frame_of_our_own():
    snippet = (
        '<style>.chip{color:red}</style><div class="container">'
        '<a class="chip" href="https://www.google.com/search?q=euro">euro 2024</a></div>'
        "<script>parent.document.body.innerHTML='pwned'</script>"
        '<img src=x onerror="alert(document.cookie)">'
    )
    step = {
        "type": "google_search_result",
        "call_id": "s",
        "result": [{"search_suggestions": snippet}],
    }
    html = render(step)
    tree = parse(html)
    (frame,) = tree.find_all("iframe")
    sandbox = frame.attrs["sandbox"].split()
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert set(sandbox) <= {"allow-popups", "allow-popups-to-escape-sandbox"}
    assert frame.attrs["referrerpolicy"] == "no-referrer"
    assert frame.attrs["title"] == "Google Search suggestions"
    assert "search-suggestions" in frame.attrs["class"]
    assert frame.attrs["src"].startswith(f"/media/t/{TURN}/")  # tests/test_media.py serves it
    # The snippet itself is nowhere in the page.
    assert "pwned" not in html and "<script>" not in html and "<style>" not in html
    assert "open" in root_of(html).attrs  # shown, not tucked away


def test_a_megabyte_code_block_renders_quickly_and_unhighlighted():
    code = "x = 1  # <script>alert(1)</script>\n" * 30_000
    assert len(code) > 1_000_000 > MAX_HIGHLIGHT_CHARS
    started = time.perf_counter()
    html = render(text_step(f"```python\n{code}```\n"))
    assert time.perf_counter() - started < 2.0
    assert 'class="hl-' not in html
    assert html.count("&lt;script&gt;") == 30_000
    html = render({"type": "code_execution_call", "id": "c", "arguments": {"code": code}})
    assert 'class="hl-' not in html and time.perf_counter() - started < 4.0


def test_small_code_blocks_are_highlighted_but_only_up_to_a_total_budget():
    block = "```python\n" + "y = 2\n" * 15_000 + "```\n\n"
    html = str(render(text_step(block * 6)))
    highlighted = html.count('<span class="hl-n">y</span>')
    assert 0 < highlighted < 6 * 15_000


# -- math, task lists, images --------------------------------------------------------------


def md_tree(text) -> Element:
    html = render(text_step(text))
    return parse(html)


def only(tree, tag, **attrs) -> Element:
    found = tree.find_all(tag, **attrs)
    assert len(found) == 1, (tag, attrs, found)
    return found[0]


@pytest.mark.parametrize("text", ["$x^2$", r"\(x^2\)"])
def test_inline_math_becomes_inline_mathml(text):
    tree = md_tree(f"The square {text} grows.")
    math = only(tree, "math")
    assert math.attrs["display"] == "inline" and math.parent.tag == "p"
    (sup,) = math.find_all("msup")
    assert [c.text() for c in sup.find_all() if c.tag in {"mi", "mn"}] == ["x", "2"]


@pytest.mark.parametrize("text", ["$$x^2$$", "$$\nx^2\n$$", r"\[x^2\]", "\\[\nx^2\n\\]"])
def test_display_math_becomes_a_block_of_mathml(text):
    tree = md_tree(f"Before.\n\n{text}\n\nAfter.")
    math = only(tree, "math", display="block")
    assert math.parent.tag == "div" and math.parent.attrs["class"] == "math-display"
    assert math.find_all("msup")


@pytest.mark.parametrize("text", ["$$x^2$$", r"\[x^2\]"])
def test_display_math_inside_a_sentence_is_displayed_in_its_paragraph(text):
    tree = md_tree(f"So {text} holds.")
    math = only(tree, "math", display="block")
    assert math.parent.tag == "span" and math.parent.attrs["class"] == "math-display"
    assert math.parent.parent.tag == "p"


def test_display_math_lines_are_not_read_as_a_list_or_a_heading():
    tree = md_tree("\\[\n- a\n= b\n\\]")
    assert not tree.find_all("ul") and not tree.find_all("h1")
    assert only(tree, "math", display="block").text() == "−a=b"


@pytest.mark.parametrize("text", [r"$a\,b$", r"\(a\,b\)", r"$$a\,b$$"])
def test_thin_space_is_a_thin_mspace_not_lost(text):
    math = only(md_tree(text), "math")
    (space,) = math.find_all("mspace")
    assert space.attrs["width"] == "0.167em"
    assert [e.text() for e in math.find_all("mi")] == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $10.",
        "Between $5-$10 a month.",
        "US$5 or US$10, or $ 20 in cash.",
        r"Escaped \$x\$ stays text.",
    ],
)
def test_prices_and_escaped_dollars_are_not_math(text):
    html = render(text_step(text))
    assert "<math" not in html and "$" in parse(html).text()


def test_a_sentence_keeps_its_prices_beside_real_math():
    tree = md_tree("Pay $5 for $x+1$ apples, not $10.")
    assert only(tree, "math").text() == "x+1"
    assert "Pay $5 for" in tree.text() and "not $10." in tree.text()


@pytest.mark.parametrize(
    ("text", "source"),
    [
        (r"Bad $\frac{$ here", r"$\frac{$"),
        (r"Bad \(\left( x\) here", r"\(\left( x\)"),
        ("$$\n\\begin{matrix} a\n$$", "$$\n\\begin{matrix} a\n$$"),
    ],
)
def test_bad_latex_shows_its_source_as_code(text, source):
    tree = md_tree(text)
    assert not tree.find_all("math")
    assert only(tree, "code", **{"class": "math-source"}).text() == source


def test_latex_macros_are_shown_as_source_not_expanded():
    # Ten-fold expansion five deep: about a minute of CPU for latex2mathml, 24 MB of MathML.
    names = ["aa", "bb", "cc", "dd", "ee", "ff"]
    bomb = r"\newcommand{\aa}{x}"
    for inner, outer in zip(names, names[1:], strict=False):
        bomb += "\\newcommand{\\" + outer + "}{" + ("{\\" + inner + "}") * 10 + "}"
    started = time.perf_counter()
    html = render(text_step(f"$${bomb}\\ff$$"))
    assert time.perf_counter() - started < 5.0
    assert "<math" not in html and "math-source" in html


def test_math_size_is_bounded_per_expression_and_per_answer():
    huge = "$" + "x+" * (MAX_MATH_CHARS // 2) + "y$"
    tree = md_tree(huge)
    assert not tree.find_all("math") and tree.find_all("code", **{"class": "math-source"})
    # Past the answer's budget the rest is shown as source, not converted.
    expression = "$" + "+".join(["x"] * 450) + "$"  # ~900 characters of LaTeX
    count = MAX_MATH_TOTAL // 899 + 5
    started = time.perf_counter()
    tree = md_tree("\n\n".join([expression] * count))
    assert time.perf_counter() - started < 20.0
    converted = len(tree.find_all("math"))
    assert 0 < converted < count
    assert len(tree.find_all("code", **{"class": "math-source"})) == count - converted


@pytest.mark.parametrize(
    "text",
    [
        "\\( " * 40_000,  # openings that never close
        "\\[\n" * 20_000,
        "$a " * 40_000,
        "$" + "{" * 2_900 + "$",  # nesting past Python's recursion limit
        r"$\sqrt{" * 600 + "x" + "}$" * 600,
    ],
    ids=["inline-openings", "block-openings", "dollars", "deep-braces", "deep-roots"],
)
def test_pathological_math_renders_in_bounded_time(text):
    started = time.perf_counter()
    render(text_step(text))
    assert time.perf_counter() - started < 20.0  # generous: a few seconds on a busy machine


@pytest.mark.parametrize(
    "latex",
    [
        r"\href{javascript:alert(1)}{x}",
        r"\style{background:url(https://evil.example/x)}{x}",
        r"\color{red}{x}\colorbox{black}{x}\rule{2000em}{2000em}",
        r"\hspace{900em}x\raisebox{-40em}{x}",
        r"\text{<img src=x onerror=alert(1)><a href='javascript:alert(2)'>y</a>}",
    ],
)
def test_latex_cannot_write_links_styles_colours_huge_sizes_or_markup(latex):
    html = render(text_step(f"$${latex}$$"))
    tree = parse(html)
    math = only(tree, "math")
    for el in [math, *math.iter()]:
        assert el.tag.startswith("m"), el.tag  # MathML only: no <img>, no <a>
        assert not {"href", "style", "class", "mathcolor", "mathbackground"} & set(el.attrs)
        for name in ("width", "height", "depth", "voffset", "lspace"):
            assert "900" not in el.attrs.get(name, "") and "40em" not in el.attrs.get(name, "")
            assert "2000" not in el.attrs.get(name, "")


def test_sanitiser_keeps_mathml_but_strips_hostile_attributes_and_elements():
    hostile = (
        '<math href="javascript:alert(1)" display="block" onload="alert(1)">'
        '<mi onclick="alert(1)" mathvariant="bold" style="color:red">x</mi>'
        '<mo stretchy="javascript:x" lspace="0.22em" rspace="99999em">+</mo>'
        "<mtext><img src=x onerror=alert(1)><script>alert(1)</script>t</mtext>"
        '<mspace width="0.167em" xlink:href="javascript:alert(1)"></mspace>'
        '<maction actiontype="statusline"><mn>1</mn></maction>'
        '<annotation-xml encoding="text/html"><a href="javascript:alert(1)">z</a></annotation-xml>'
        "</math>"
    )
    tree = parse(sanitise(hostile))
    math = only(tree, "math")
    assert math.attrs == {"display": "block"}
    assert only(tree, "mi").attrs == {"mathvariant": "bold"}
    assert only(tree, "mo").attrs == {"lspace": "0.22em"}
    assert only(tree, "mspace").attrs == {"width": "0.167em"}
    assert not tree.find_all("img") and not tree.find_all("script")
    assert not tree.find_all("maction") and not tree.find_all("annotation-xml")
    assert not tree.find_all("a")


def test_mathml_written_as_html_by_the_model_is_text():
    html = render(text_step('<math href="javascript:alert(1)"><mi onclick="x()">y</mi></math>'))
    assert not parse(html).find_all("math") and "&lt;math" in html


def test_task_lists_are_disabled_checkboxes():
    tree = md_tree("- [ ] write tests\n- [x] read the brief\n- plain item")
    boxes = tree.find_all("input")
    assert [b.attrs.get("type") for b in boxes] == ["checkbox", "checkbox"]
    assert all("disabled" in b.attrs for b in boxes)
    assert "checked" not in boxes[0].attrs and "checked" in boxes[1].attrs
    assert [b.parent.text().strip() for b in boxes] == ["write tests", "read the brief"]
    assert only(tree, "ul").attrs["class"] == "contains-task-list"


def test_an_input_is_never_more_than_a_disabled_checkbox():
    tree = parse(sanitise('<input type="text" name="q" value="v" onfocus="alert(1)" autofocus>'))
    assert only(tree, "input").attrs == {"type": "checkbox", "disabled": "disabled"}


def test_images_become_links_with_a_note_never_img():
    tree = md_tree(
        "![a *small* cat](https://example.com/cat.png) and ![](https://example.com/p.gif)"
    )
    assert not tree.find_all("img")
    first, second = tree.find_all("a", **{"class": "image-link"})
    assert first.attrs["href"] == "https://example.com/cat.png" and first.text() == "a small cat"
    assert first.attrs["title"] == "Image not shown: remote images are blocked"
    assert second.text() == "https://example.com/p.gif"  # no alt text: the address


def test_an_image_with_a_script_url_or_inside_a_link_is_only_its_text():
    tree = md_tree(
        "![pic](javascript:alert(1)) ![data](data:image/png;base64,iVBORw0KGgo=) "
        "![ftp](ftp://example.com/x.png) [![badge](https://example.com/b.svg)](https://example.com/)"
    )
    assert not tree.find_all("img")
    spans = tree.find_all("span", **{"class": "image-link"})
    assert [s.text() for s in spans] == ["data", "ftp", "badge"]
    assert "![pic](javascript:alert(1))" in tree.text()  # markdown itself refuses that one
    (link,) = tree.find_all("a")
    assert link.attrs["href"] == "https://example.com/" and not link.find_all("a")


def test_code_fences_keep_pygments_highlighting_beside_math():
    tree = md_tree("$x$\n\n```python\ndef f():\n    return '$5 and $10'\n```\n")
    pre = only(tree, "pre")
    assert pre.find_all("span", **{"class": "hl-k"})
    assert "'$5 and $10'" in pre.text() and len(tree.find_all("math")) == 1


def test_render_markdown_keeps_its_signature():
    # The live renderer renders finished blocks with it: one argument, safe HTML out.
    html = render_markdown(r"**b** $x$")
    assert html.__html__() == str(html) and "<strong>b</strong>" in html and "<math" in html


def test_a_citation_inside_a_formula_goes_just_after_it():
    text = "Energy is $E=mc^2$ as Einstein said."
    cited = {"type": "url_citation", "url": "https://a.org", "title": "A"}
    html = render(text_step(text, [{**cited, "end_index": end_of(text, "$E=m")}]))
    tree = parse(html)
    math = only(tree, "math")
    assert math.text() == "E=mc2"  # no letters of the marker in the formula
    assert len(markers(html)) == 1
    following = math.parent.children[math.parent.children.index(math) + 1]
    assert [a.attrs["href"] for a in following.find_all("a")] == ["https://a.org"]


@pytest.mark.django_db
def test_math_shows_as_mathml_in_the_admin_transcript(client, make_user):
    from chatsite.chat.models import Conversation, Turn

    boss = make_user("boss", is_staff=True, is_superuser=True)
    convo = Conversation.objects.create(owner=boss, title="Sums", model="gemini-3.5-flash")
    answer = "The area is $$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$ for $x \\ge 0$."
    Turn.objects.create(conversation=convo, status="completed", steps=[text_step(answer)])
    client.force_login(boss)
    page = client.get(f"/admin/chat/conversation/{convo.pk}/change/").content.decode()
    tree = parse(page)
    assert tree.find_all("math", display="block") and tree.find_all("math", display="inline")
    assert tree.find_all("mfrac") and tree.find_all("mspace", width="0.167em")
    assert "chatsite/transcript.css" in page  # its math and overflow styles come along


# -- media ----------------------------------------------------------------------------------


def digest_url(data: str) -> str:
    return f"/media/t/{TURN}/{hashlib.sha256(data.encode()).hexdigest()[:32]}/"


def test_output_image_is_served_by_url_never_inlined():
    step = {
        "type": "model_output",
        "content": [{"type": "image", "data": PNG, "mime_type": "image/png"}],
    }
    html = render(step)
    (img,) = parse(html).find_all("img")
    assert img.attrs["src"] == digest_url(PNG) == media_url(TURN, step["content"][0])
    assert img.attrs["loading"] == "lazy" and img.attrs["alt"]
    assert img.parent.parent.tag == "figure"
    assert PNG not in html and "base64" not in html


def test_thought_summary_image_uses_a_media_url():
    step = {
        "type": "thought",
        "summary": [
            {"type": "text", "text": "Sketch:"},
            {"type": "image", "data": PNG, "mime_type": "image/png"},
        ],
    }
    html = render(step)
    assert parse(html).find_all("img")[0].attrs["src"] == digest_url(PNG) and PNG not in html


def test_tool_result_content_lists_show_media():
    step = {
        "type": "code_execution_result",
        "call_id": "c",
        "result": [
            {"type": "text", "text": "plot:"},
            {"type": "image", "data": PNG, "mime_type": "image/png"},
        ],
    }
    html = render(step)
    assert parse(html).find_all("img")[0].attrs["src"] == digest_url(PNG)
    fr = {"type": "function_result", "call_id": "c", "result": [{"type": "image", "data": PNG}]}
    assert parse(render(fr)).find_all("img")[0].attrs["src"] == digest_url(PNG)  # type sniffed


def test_audio_video_and_documents():
    audio = base64.b64encode(b"RIFF....WAVE").decode()
    video = base64.b64encode(b"\x00\x00\x00\x18ftypmp42").decode()
    pdf = base64.b64encode(b"%PDF-1.4 tiny").decode()
    step = {
        "type": "model_output",
        "content": [
            {"type": "audio", "data": audio, "mime_type": "audio/wav"},
            {"type": "video", "data": video, "mime_type": "video/mp4"},
            {"type": "document", "data": pdf, "mime_type": "application/pdf"},
        ],
    }
    html = render(step)
    tree = parse(html)
    (a,) = tree.find_all("audio")
    (v,) = tree.find_all("video")
    assert a.attrs["src"] == digest_url(audio) and "controls" in a.attrs
    assert v.attrs["src"] == digest_url(video) and "controls" in v.attrs
    (chip,) = [x for x in tree.find_all("a") if "doc-chip" in x.attrs.get("class", "")]
    assert chip.attrs["href"] == digest_url(pdf) and "application/pdf" in chip.text()
    assert "download" in chip.attrs
    for data in (audio, video, pdf):
        assert data not in html


def test_svg_or_html_image_is_a_download_never_an_img():
    svg = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>').decode()
    step = {
        "type": "model_output",
        "content": [{"type": "image", "data": svg, "mime_type": "image/svg+xml"}],
    }
    html = render(step)
    tree = parse(html)
    assert not tree.find_all("img")
    assert [a for a in tree.find_all("a") if a.attrs.get("href") == digest_url(svg)]


def test_uri_media_embeds_only_https():
    step = {
        "type": "model_output",
        "content": [
            {"type": "image", "uri": "https://storage.example/cat.png", "mime_type": "image/png"},
            {"type": "image", "uri": "http://plain.example/cat.png", "mime_type": "image/png"},
            {"type": "audio", "uri": "gs://bucket/a.mp3", "mime_type": "audio/mp3"},
            {"type": "video", "uri": "javascript:alert(1)", "mime_type": "video/mp4"},
            {
                "type": "document",
                "uri": "https://docs.example/a.pdf",
                "mime_type": "application/pdf",
            },
            {"type": "image", "mime_type": "image/png"},
        ],
    }
    html = render(step)
    tree = parse(html)
    (img,) = tree.find_all("img")
    assert img.attrs["src"] == "https://storage.example/cat.png"
    assert img.attrs["referrerpolicy"] == "no-referrer"
    assert not tree.find_all("audio") and not tree.find_all("video")
    assert "http://plain.example/cat.png" in html and "gs://bucket/a.mp3" in html
    assert [a for a in tree.find_all("a") if a.attrs.get("href") == "https://docs.example/a.pdf"]


def test_media_url_needs_data_and_a_turn():
    assert media_url(None, {"type": "image", "data": PNG}) is None
    assert media_url(TURN, {"type": "image", "uri": "https://x"}) is None
    assert media_url(TURN, {"type": "image", "data": ""}) is None


# -- the guide's real examples --------------------------------------------------------------


def test_every_steps_example_in_the_guide_renders():
    examples = guide_examples()
    from_001 = [o for name, o in examples if name.startswith("001_")]
    assert len(from_001) >= 9, len(from_001)
    kinds = set()
    for _, interaction in examples:
        kinds.update(s.get("type") for s in interaction["steps"])
        html = render_steps(interaction["steps"], turn_id=TURN)
        assert_inert(html)
        for i, step in enumerate(interaction["steps"]):
            if step.get("type") == "user_input":
                continue
            assert f'id="s-{TURN}-{i}" data-step-type="{step["type"]}"' in html
            render_step(step, turn_id=TURN, index=i, live=True)
    assert {
        "thought",
        "model_output",
        "google_search_call",
        "google_search_result",
        "function_call",
    } <= kinds
    # The guide's grounded answer: one marker, on uefa.com.
    euro = next(o for _, o in examples if "uefa.com/euro2024" in json.dumps(o))
    html = render_steps(euro["steps"], turn_id=TURN)
    assert [(a.attrs["data-citation"], a.attrs["href"]) for a in markers(html)] == [
        ("1", "https://www.uefa.com/euro2024")
    ]
