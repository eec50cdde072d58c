"""The activity timeline (consecutive thought and tool steps as one block) and an answer's
sources, as the server renders them for the page, a reload, the share page and the admin."""

import re

import pytest

from chatsite.chat.rendering import render_steps

from .test_rendering import end_of, parse, text_step

TURN = 9


def thought(text="Planning."):
    return {"type": "thought", "summary": [{"type": "text", "text": text}]}


def search(n):
    return [
        {"type": "google_search_call", "id": f"s{n}", "arguments": {"queries": [f"query {n}"]}},
        {"type": "google_search_result", "call_id": f"s{n}", "result": []},
    ]


def code(n):
    return [
        {"type": "code_execution_call", "id": f"c{n}", "arguments": {"code": "print(1)"}},
        {"type": "code_execution_result", "call_id": f"c{n}", "result": "1"},
    ]


def tool_call(n):
    return [
        {"type": "function_call", "id": f"f{n}", "name": "weather", "arguments": {"city": "Oslo"}},
        {"type": "function_result", "call_id": f"f{n}", "result": {"temp": 3}},
    ]


ANSWER = text_step("# Report\n\nThe answer.")
DEEP_RESEARCH = [
    thought("Plan."),
    *[s for n in range(3) for s in (thought(f"Searching {n}."), *search(n))],
    thought("Reading."),
    thought("Writing."),
    ANSWER,
]


def activity_blocks(html):
    return [e for e in parse(html).find_all("details") if "data-activity" in e.attrs]


def blocks(steps, **kw):
    return activity_blocks(render_steps(steps, turn_id=TURN, **kw))


def _summary(block):
    (summary,) = [c for c in block.children if getattr(c, "tag", None) == "summary"]
    return summary.text().strip()


def inner_steps(block):
    (inner,) = block.find_all("div", **{"class": "activity-steps"})
    return [c for c in inner.children if getattr(c, "tag", None) and "data-step-type" in c.attrs]


def test_a_deep_research_run_is_one_activity_block_before_the_report():
    root = parse(render_steps(DEEP_RESEARCH, turn_id=TURN))
    top = [c for c in root.children if getattr(c, "tag", None)]
    assert [c.tag for c in top] == ["details", "section"]
    (block,) = blocks(DEEP_RESEARCH)
    types = [s.attrs["data-step-type"] for s in inner_steps(block)]
    assert types == [s["type"] for s in DEEP_RESEARCH[:-1]]
    assert top[1].attrs["data-step-type"] == "model_output"
    assert "data-step-type" not in block.attrs  # the block is not a step (UI contract)


def test_the_summary_says_what_was_done_from_the_step_types():
    (block,) = blocks(DEEP_RESEARCH)
    assert _summary(block) == "Researched · 3 searches"


@pytest.mark.parametrize(
    "steps,expected",
    [
        ([thought(), thought()], "Thought"),
        ([thought(), *code(1), *code(2)], "Ran code · 2 runs"),
        ([*tool_call(1)], "Used tools · 1 tool call"),
        ([*search(1), *code(1)], "Researched · 1 search · 1 run"),
        (
            [{"type": "url_context_call", "id": "u", "arguments": {"urls": ["https://a.example"]}}],
            "Read pages · 1 page read",
        ),
    ],
)
def test_summary_words(steps, expected):
    (block,) = blocks([*steps, ANSWER])
    assert _summary(block) == expected


def test_a_saved_turn_names_no_duration_it_does_not_know():
    (block,) = blocks(DEEP_RESEARCH)
    assert not re.search(r"\d+ (s|m)\b", _summary(block))


def test_closed_once_the_answer_follows():
    (block,) = blocks(DEEP_RESEARCH)
    assert "open" not in block.attrs
    assert "is-running" not in block.attrs["class"]


def test_open_and_running_while_it_is_the_last_thing_in_a_running_reply():
    (block,) = blocks(DEEP_RESEARCH[:4], running=True)
    assert "open" in block.attrs
    assert "is-running" in block.attrs["class"].split()
    assert _summary(block) == "Researching · 1 search"


def test_a_reply_that_ended_on_its_activity_keeps_it_open_in_the_past_tense():
    (block,) = blocks(DEEP_RESEARCH[:4], running=False)
    assert "open" in block.attrs
    assert _summary(block) == "Researched · 1 search"


def test_an_answer_between_tool_steps_splits_them_into_two_blocks():
    steps = [thought(), text_step("Let me check."), *tool_call(1), text_step("3 degrees.")]
    root = parse(render_steps(steps, turn_id=TURN))
    top = [c for c in root.children if getattr(c, "tag", None)]
    assert [c.attrs.get("data-step-type", "activity") for c in top] == [
        "activity",
        "model_output",
        "activity",
        "model_output",
    ]


def with_suggestions(n):
    call, result = search(n)
    return [call, {**result, "result": [{"search_suggestions": "<div>chips</div>"}]}]


def test_search_suggestions_stay_in_sight_after_the_closed_block():
    steps = [thought(), *with_suggestions(1), *search(2), ANSWER]
    root = parse(render_steps(steps, turn_id=TURN))
    top = [c for c in root.children if getattr(c, "tag", None)]
    assert [c.attrs.get("data-step-type", "activity") for c in top] == [
        "activity",
        "google_search_result",
        "model_output",
    ]
    assert top[1].find_all("iframe") and "open" in top[1].attrs
    (block,) = activity_blocks(render_steps(steps, turn_id=TURN))
    assert [s.attrs["data-step-type"] for s in inner_steps(block)] == [
        "thought",
        "google_search_call",
        "google_search_call",
        "google_search_result",  # the one without suggestions stays inside
    ]


def test_search_suggestions_stay_inside_the_block_while_it_is_open():
    (block,) = blocks([thought(), *with_suggestions(1)], running=True)
    assert [s.attrs["data-step-type"] for s in inner_steps(block)] == [
        "thought",
        "google_search_call",
        "google_search_result",
    ]


def test_each_step_inside_stays_its_own_closed_disclosure():
    (block,) = blocks(DEEP_RESEARCH)
    for step in inner_steps(block):
        assert step.tag == "details", step.attrs["data-step-type"]
        assert step.attrs["id"].startswith(f"s-{TURN}-")
    closed = [s for s in inner_steps(block) if s.attrs["data-step-type"] == "thought"]
    assert all("open" not in s.attrs for s in closed)


def test_a_turn_page_passes_whether_the_reply_still_runs():
    from types import SimpleNamespace

    from chatsite.chat.templatetags.chat import turn_steps

    def turn(status):
        return SimpleNamespace(
            pk=TURN, steps=DEEP_RESEARCH[:4], request={}, schema_verdicts={}, status=status,
            is_final=status == "completed",
        )  # fmt: skip

    running = activity_blocks(turn_steps(turn("in_progress")))
    done = activity_blocks(turn_steps(turn("completed")))
    assert _summary(running[0]) == "Researching · 1 search"
    assert _summary(done[0]) == "Researched · 1 search"


# -- sources ---------------------------------------------------------------------------------


def cite(text, sub, url, title):
    return {"type": "url_citation", "url": url, "title": title, "end_index": end_of(text, sub)}


def sources_of(html):
    (ol,) = parse(html).find_all("ol", **{"class": "sources"})
    return [li for li in ol.children if getattr(li, "tag", None) == "li"]


def answer_html(text, annotations):
    return render_steps([text_step(text, annotations)], turn_id=TURN)


def test_a_source_named_after_its_site_shows_the_domain_once():
    text = "Cats purr."
    html = answer_html(
        text, [cite(text, "purr.", "https://en.wikipedia.org/wiki/Cat", "wikipedia.org")]
    )
    (item,) = sources_of(html)
    assert item.text().split() == ["wikipedia.org"]
    assert not item.find_all("span", **{"class": "source-domain"})


def test_a_source_with_a_page_title_shows_title_and_domain():
    text = "Cats purr."
    html = answer_html(
        text, [cite(text, "purr.", "https://www.bbc.co.uk/news/cats", "Why cats purr")]
    )
    (item,) = sources_of(html)
    (link,) = item.find_all("a")
    assert (
        link.text() == "Why cats purr" and link.attrs["href"] == "https://www.bbc.co.uk/news/cats"
    )
    (domain,) = item.find_all("span", **{"class": "source-domain"})
    assert domain.text() == "bbc.co.uk"


def test_a_source_without_a_title_is_named_by_its_domain_once():
    text = "Cats purr."
    html = answer_html(
        text, [{**cite(text, "purr.", "https://example.org/a/b", ""), "title": None}]
    )
    (item,) = sources_of(html)
    assert item.text().split() == ["example.org"]


def test_the_same_page_cited_twice_is_one_source():
    text = "Cats purr. Dogs bark. Birds sing."
    html = answer_html(
        text,
        [
            cite(text, "purr.", "https://example.org/pets", "Pets"),
            cite(text, "bark.", "https://example.org/pets#dogs", "Pets, dogs"),
            cite(text, "sing.", "https://example.org/birds", "Birds"),
        ],
    )
    assert [li.attrs["value"] for li in sources_of(html)] == ["1", "2"]
    markers = parse(html).find_all("a", data_citation="1")
    assert len(markers) == 2
    assert all(m.attrs["href"].startswith("https://example.org/pets") for m in markers)


def test_sources_are_numbered_in_the_order_the_text_cites_them():
    text = "First claim. Second claim. Third claim."
    html = answer_html(
        text,
        [  # annotations need not come in reading order
            cite(text, "Third claim.", "https://c.example/", "C"),
            cite(text, "First claim.", "https://a.example/", "A"),
            cite(text, "Second claim.", "https://b.example/", "B"),
        ],
    )
    assert [(li.attrs["value"], li.find_all("a")[0].text()) for li in sources_of(html)] == [
        ("1", "A"),
        ("2", "B"),
        ("3", "C"),
    ]
    found = [
        (a.attrs["data-citation"], a.attrs["href"])
        for a in parse(html).find_all("a")
        if "data-citation" in a.attrs
    ]
    assert found == [
        ("1", "https://a.example/"),
        ("2", "https://b.example/"),
        ("3", "https://c.example/"),
    ]
