"""The server half of live Markdown (chatsite/chat/rendering/live.py): which blocks of a growing
answer are complete, which need the page renderer's HTML, and whether the end needs a redraw."""

import pytest

from chatsite.chat.hub import Subscriber, parse_text_frame, text_frame
from chatsite.chat.rendering.live import LiveMarkdown
from chatsite.chat.rendering.markdown import render_markdown

ANSWER = (
    "# Title\n\nSome **bold** and `code` and a [link](https://example.org).\n\n"
    "- a\n- b\n\n  more\n\n1. one\n2. two\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n"
    "```python\nprint('hi')\n```\n\n> quote\n\n---\n\nend ~~gone~~  \nline\n"
)


def streamed(text: str, size: int) -> tuple[LiveMarkdown, list[tuple[int, str]]]:
    live, sent = LiveMarkdown(), []
    for i in range(0, len(text), size):
        sent += live.feed(text[i : i + size])
    return live, sent


@pytest.mark.parametrize("size", [1, 4, 13, 1000])
def test_blocks_complete_as_the_next_one_begins_however_the_text_is_cut(size):
    live, sent = streamed(ANSWER, size)
    assert len(live.shown) == 8  # every block but the last, which may still grow
    sent += live.finish()
    assert len(live.shown) == 9
    assert live.derived(), "the blocks put together are the page's render"
    assert "".join(live.shown) == str(render_markdown(ANSWER))


def test_only_blocks_the_browser_cannot_draw_are_sent_highlighted_code():
    live, sent = streamed(ANSWER, 7)
    sent += live.finish()
    assert [index for index, _ in sent] == [5]
    assert 'class="hl-' in sent[0][1]


def test_a_block_is_sent_once_it_is_complete_not_before():
    live = LiveMarkdown("para\n\n```python\nx = 1\n")
    assert live.feed("```\n") == []  # the fence closed, but it is still the last block
    sent = live.feed("\nafter")
    assert [index for index, _ in sent] == [1]


def test_link_reference_definitions_make_the_end_redraw():
    live, _ = streamed("A [link][ref] here.\n\nmore\n\n[ref]: https://example.org\n", 5)
    live.finish()
    assert not live.derived()


def test_a_block_too_large_for_a_frame_is_not_sent_and_the_end_redraws(monkeypatch):
    monkeypatch.setattr("chatsite.chat.rendering.live.MAX_BLOCK_HTML", 500)
    code = "".join(f"x{n} = {n}\n" for n in range(100))
    live, sent = streamed(f"```python\n{code}```\n\nafter\n", 9)
    sent += live.finish()
    assert sent == []
    assert not live.derived()


def test_a_long_open_block_is_not_reparsed_on_every_line():
    live = LiveMarkdown("```\n")
    parses = 0
    parse = live._advance

    def counting(**kwargs):
        nonlocal parses
        parses += 1
        return parse(**kwargs)

    live._advance = counting
    for n in range(5000):  # half a megabyte of code in one unclosed fence
        live.feed(f"{n:>99}\n")
    assert parses < 100


def test_text_frames_name_their_element_only_when_it_changes():
    sent = []
    sub = Subscriber(send=None, on_overflow=lambda: None)
    sub._writer = object()  # collect frames in the queue instead of sending them
    for frame in [text_frame("st-1-1", "a"), text_frame("st-1-1", "b"), '{"status":[1,"x"]}',
                  text_frame("st-1-1", "c"), text_frame("st-1-2", "d")]:  # fmt: skip
        sub.put(frame)
    sent = list(sub._queue)
    assert sent == ["+st-1-1\na", "~b", '{"status":[1,"x"]}', "+st-1-1\nc", "+st-1-2\nd"]
    last, shown = "", []
    for frame in sent:
        if (parsed := parse_text_frame(frame, last)) is not None:
            last = parsed[0]
            shown.append(parsed)
    assert shown == [("st-1-1", "a"), ("st-1-1", "b"), ("st-1-1", "c"), ("st-1-2", "d")]
