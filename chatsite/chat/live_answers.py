"""A reply's answers while they stream as Markdown (rendering/live.py): the frames that keep
each tab's formatted text equal to what a reload shows, without sending the text twice.

The runner tells it when an answer's live element opens, each delta, and when the step stops;
it answers with the frames to send (block HTML where the page renders otherwise, an end mark
when the tab's own text already is the final form)."""

from __future__ import annotations

from . import structured
from .hub import block_frame, end_frame
from .rendering import stream_dom_id
from .rendering.live import LiveMarkdown


class LiveAnswers:
    def __init__(self, turn_id: int) -> None:
        self.turn_id = turn_id
        self.markdown: dict[int, LiveMarkdown] = {}  # live answers' blocks, by element
        self.derived: dict[str, str] = {}  # live element id → text, answers ended in place

    def track(self, element: int, step: dict) -> None:
        """An answer's live element opened: follow its blocks from the text it starts with."""
        if step.get("type") != "model_output":
            return
        content = step.get("content")
        blocks = content if isinstance(content, list) else []
        texts = [b for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        text = "".join(b["text"] for b in texts if isinstance(b.get("text"), str))
        self.markdown[element] = LiveMarkdown(text)

    def feed(self, element: int, text: str) -> list[str]:
        """Frames for the blocks this delta completed that the page renders otherwise."""
        live = self.markdown.get(element)
        if live is None:
            return []
        target = stream_dom_id(self.turn_id, element)
        return [block_frame(target, block, html) for block, html in live.feed(text)]

    def final_frames(self, element: int, step: dict, request: dict | None) -> list[str] | None:
        """The stopped answer's last blocks and an end mark, when the tab already shows it as
        the page would; None: send the whole step, rendered."""
        live = self.markdown.pop(element, None)
        if live is None or not _one_text_block(step, live.text, request):
            return None
        target = stream_dom_id(self.turn_id, element)
        blocks = live.finish()
        if not live.derived():
            return None
        self.derived[target] = live.text
        return [*(block_frame(target, i, html) for i, html in blocks), end_frame(target)]

    def source_from(self, source: str) -> str | None:
        """The live element whose text is this answer's Markdown, if the tabs hold it."""
        return next((target for target, text in self.derived.items() if text == source), None)

    def snapshot_frames(self) -> list[str]:
        """For a tab joining now: the live answers' blocks the page renders otherwise (their
        shells carry raw text)."""
        frames = []
        for element, live in self.markdown.items():
            target = stream_dom_id(self.turn_id, element)
            frames += [block_frame(target, i, html) for i, html in live.overrides.items()]
        return frames

    def clear(self) -> None:
        self.markdown.clear()


def _one_text_block(step: dict, text: str, request: dict | None) -> bool:
    """The page shows this answer as one Markdown block of exactly the streamed text."""
    content = step.get("content")
    return (
        isinstance(content, list)
        and len(content) == 1
        and isinstance(content[0], dict)
        and content[0].get("type") == "text"
        and content[0].get("text") == text
        and not content[0].get("annotations")
        and not step.get("error")
        and structured.schema_of((request or {}).get("response_format")) is None
    )
