"""The one renderer: a step becomes the same HTML live, on page load, in the admin, in exports."""

from .markdown import render_markdown
from .media import media_url
from .steps import continue_output, render_step, render_steps, step_dom_id, stream_dom_id

__all__ = [
    "continue_output",
    "media_url",
    "render_markdown",
    "render_step",
    "render_steps",
    "step_dom_id",
    "stream_dom_id",
]
