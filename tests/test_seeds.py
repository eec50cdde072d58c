"""Google's guides (../shared/seeds): every steps-revision example round-trips through the
client's parser (SSE reader + step assembler), parses into the official SDK's models with no
Unknown variant, and renders (tests/test_rendering.py renders each one too)."""

import json

import httpx
import pytest
from google.genai._gaos.types.interactions import Interaction

from chatsite.chat.rendering import render_steps
from chatsite.gemini import StepAssembler
from chatsite.gemini.sse import iter_events

from .emulator.harness import unknowns
from .seeds import guide_examples, guide_streams


def with_elided_ids(interaction: dict) -> dict:
    """The guides leave out some call ids (as they shorten ids to `v1_Chd...`); the SDK's
    strict models require them, so fill those in before checking every type is known."""
    for i, step in enumerate(interaction.get("steps", [])):
        if step.get("type", "").endswith("_call"):
            step.setdefault("id", f"elided_{i}")
        if step.get("type", "").endswith("_result"):
            step.setdefault("call_id", f"elided_{i - 1}")
    return interaction


def examples():
    return guide_examples()


def test_the_guides_hold_examples_of_every_language():
    names = {name[:3] for name, _ in examples()}
    assert {"000", "001", "002", "003"} <= names  # the steps revision; 004 is the old beta


@pytest.mark.parametrize("index", range(36))
def test_an_example_response_round_trips_through_the_client(index):
    found = examples()
    if index >= len(found):
        pytest.skip(f"the guides hold {len(found)} examples")
    name, interaction = found[index]
    wire = json.dumps(interaction)
    # The completed snapshot is authoritative: the assembler keeps its steps exactly.
    assembler = StepAssembler()
    assembler.feed({"event_type": "interaction.completed", "interaction": json.loads(wire)})
    assert assembler.steps == interaction["steps"]
    assert json.loads(json.dumps(assembler.steps)) == interaction["steps"]
    parsed = Interaction.model_validate(with_elided_ids(json.loads(wire)))
    assert unknowns(parsed) == [], name
    assert render_steps(assembler.steps, turn_id=1)


async def test_the_guides_example_stream_assembles():
    for name, data_lines in guide_streams():
        raw = "".join(f"{line}\n\n" for line in data_lines).encode()

        async def chunks(raw=raw):
            for i in range(0, len(raw), 7):  # arbitrary chunk boundaries
                yield raw[i : i + 7]

        response = httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=chunks()
        )
        assembler = StepAssembler()
        async for event in iter_events(response):
            assembler.feed(event)
        assert assembler.done and assembler.status == "completed", name
        text = "".join(
            b["text"] for s in assembler.steps if s["type"] == "model_output" for b in s["content"]
        )
        assert text.startswith("AI works"), (name, text)
