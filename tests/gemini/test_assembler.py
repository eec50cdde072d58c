"""StepAssembler: events → steps, per interactions-api.md §6.3."""

from __future__ import annotations

import copy
from typing import Any

from chatsite.gemini import StepAssembler
from chatsite.gemini.assembler import UNKNOWN_DELTAS_KEY

from .conftest import seed_events


def start(index: int, step: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"event_type": "step.start", "index": index, "step": step, **extra}


def delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"event_type": "step.delta", "index": index, "delta": fields}


def stop(index: int, **extra: Any) -> dict[str, Any]:
    return {"event_type": "step.stop", "index": index, **extra}


def fold(*events: dict[str, Any]) -> StepAssembler:
    assembler = StepAssembler()
    for event in events:
        assembler.feed(event)
    return assembler


def test_seed_example_stream() -> None:
    assembler = fold(*seed_events())
    assert assembler.steps == [
        {"type": "thought", "signature": "EvEFCu4F..."},
        {"type": "model_output", "content": [{"type": "text", "text": "AI works "}]},
    ]
    assert assembler.interaction == {
        "id": "v1_Chd...",
        "status": "completed",
        "model": "gemini-3.5-flash",
        "usage": {"total_tokens": 197},
    }
    assert (assembler.interaction_id, assembler.status) == ("v1_Chd...", "completed")
    assert assembler.usage == {"total_tokens": 197}
    assert assembler.done and assembler.error is None
    assert assembler.finished_indices == {0, 1}
    assert assembler.unknown_events == [] and assembler.problems == []


def test_step_start_is_deep_copied() -> None:
    shell = {"type": "model_output", "content": []}
    event = start(0, shell)
    assembler = fold(event, delta(0, type="text", text="hi"))
    assert assembler.steps[0]["content"] == [{"type": "text", "text": "hi"}]
    assert shell == {"type": "model_output", "content": []}
    assert event["step"] is shell


def test_text_appends_to_the_last_text_block_else_pushes() -> None:
    assembler = fold(
        start(1, {"type": "model_output", "content": []}),
        delta(1, type="text", text="Look: "),
        delta(1, type="image", mime_type="image/png", data="AAA"),
        delta(1, type="text", text="a "),
        delta(1, type="text", text="cat"),
    )
    assert assembler.steps[0]["content"] == [
        {"type": "text", "text": "Look: "},
        {"type": "image", "mime_type": "image/png", "data": "AAA"},
        {"type": "text", "text": "a cat"},
    ]


def test_media_deltas_push_blocks_without_the_deprecated_rate() -> None:
    assembler = fold(
        start(0, {"type": "model_output", "content": []}),
        delta(0, type="audio", data="UklG", mime_type="audio/wav", rate=24000, sample_rate=24000),
        delta(0, type="video", uri="gs://v.mp4", mime_type="video/mp4"),
        delta(0, type="document", data="JVBE", mime_type="application/pdf"),
        delta(0, type="image", uri="https://x/i.png", resolution="high"),
    )
    assert assembler.steps[0]["content"] == [
        {"type": "audio", "data": "UklG", "mime_type": "audio/wav", "sample_rate": 24000},
        {"type": "video", "uri": "gs://v.mp4", "mime_type": "video/mp4"},
        {"type": "document", "data": "JVBE", "mime_type": "application/pdf"},
        {"type": "image", "uri": "https://x/i.png", "resolution": "high"},
    ]


def test_annotations_extend_the_latest_text_block() -> None:
    cite_a = {"type": "url_citation", "url": "https://a", "start_index": 0, "end_index": 5}
    cite_b = {"type": "url_citation", "url": "https://b", "start_index": 6, "end_index": 9}
    cite_c = {"type": "place_citation", "name": "Cafe", "start_index": 0, "end_index": 2}
    assembler = fold(
        start(1, {"type": "model_output", "content": []}),
        delta(1, type="text", text="Hello world"),
        delta(1, type="text_annotation_delta", annotations=[cite_a]),
        delta(1, type="text_annotation", annotations=[cite_b]),  # the legacy name
        delta(1, type="image", data="AAA"),
        delta(1, type="text_annotation_delta", annotations=[cite_c]),
    )
    first, image = assembler.steps[0]["content"]
    assert first == {"type": "text", "text": "Hello world", "annotations": [cite_a, cite_b, cite_c]}
    assert image == {"type": "image", "data": "AAA"}


def test_annotations_before_any_text_are_kept() -> None:
    cite = {"type": "url_citation", "url": "https://a"}
    assembler = fold(delta(0, type="text_annotation_delta", annotations=[cite]))
    assert assembler.steps[0]["content"] == [{"type": "text", "text": "", "annotations": [cite]}]


def test_thought_summary_merges_text_and_signature_replaces() -> None:
    assembler = fold(
        start(0, {"type": "thought"}),
        delta(0, type="thought_summary", content={"type": "text", "text": "Thinking "}),
        delta(0, type="thought_summary", content={"type": "text", "text": "hard."}),
        delta(0, type="thought_summary", content={"type": "image", "data": "AAA"}),
        delta(0, type="thought_summary", content={"type": "text", "text": "Done."}),
        delta(0, type="thought_signature", signature="c2lnMQ=="),
        delta(0, type="thought_signature", signature="c2lnMg=="),
        stop(0),
    )
    assert assembler.steps == [
        {
            "type": "thought",
            "summary": [
                {"type": "text", "text": "Thinking hard."},
                {"type": "image", "data": "AAA"},
                {"type": "text", "text": "Done."},
            ],
            "signature": "c2lnMg==",
        }
    ]


def test_function_call_arguments_from_fragments() -> None:
    call = {"type": "function_call", "id": "call_1", "name": "get_weather", "arguments": {}}
    assembler = fold(
        start(2, call),
        delta(2, type="arguments_delta", arguments='{"loc'),
        delta(2, type="arguments_delta", arguments='ation": "Par'),
        delta(2, type="arguments_delta", arguments='is", "units": ["c"'),
        delta(2, type="arguments_delta", arguments="]}"),
    )
    # Until step.stop the step keeps the start's arguments: fragments are not valid JSON.
    assert assembler.steps[0]["arguments"] == {}
    assert not assembler.is_finished(2)
    assembler.feed(stop(2))
    assert assembler.steps == [
        {
            "type": "function_call",
            "id": "call_1",
            "name": "get_weather",
            "arguments": {"location": "Paris", "units": ["c"]},
        }
    ]
    assert assembler.is_finished(2)


def test_empty_arguments_buffer_keeps_the_start_arguments() -> None:
    call = {"type": "function_call", "id": "c", "name": "f", "arguments": {"x": 1}}
    assembler = fold(start(0, call), delta(0, type="arguments_delta", arguments=""), stop(0))
    assert assembler.steps[0]["arguments"] == {"x": 1}
    assembler = fold(start(0, call), stop(0))
    assert assembler.steps[0]["arguments"] == {"x": 1}


def test_invalid_arguments_json_is_kept_raw_and_reported() -> None:
    call = {"type": "function_call", "id": "c", "name": "f", "arguments": {}}
    assembler = fold(start(0, call), delta(0, type="arguments_delta", arguments='{"x": '), stop(0))
    assert assembler.steps[0]["arguments"] == '{"x": '
    assert len(assembler.problems) == 1 and "step 0" in assembler.problems[0]


def test_tool_call_and_result_deltas_shallow_merge() -> None:
    assembler = fold(
        start(1, {"type": "google_search_call", "id": "s1", "arguments": {}}),
        delta(1, type="google_search_call", arguments={"queries": ["a"]}, signature="sig"),
        delta(1, type="google_search_call", arguments={"queries": ["a", "b"]}),
        stop(1),
        start(2, {"type": "google_search_result", "call_id": "s1", "result": []}),
        delta(2, type="google_search_result", result=[{"search_suggestions": "<div/>"}]),
        delta(2, type="google_search_result", result=[{"search_suggestions": "<p/>"}]),
        start(3, {"type": "function_result", "call_id": "c1", "result": ""}),
        delta(3, type="function_result", result={"ok": True}, is_error=False, name="f"),
        start(4, {"type": "mcp_server_tool_call", "id": "m1"}),
        delta(4, type="mcp_server_tool_call", name="n", server_name="srv", arguments={"q": 1}),
    )
    assert assembler.steps == [
        {
            "type": "google_search_call",
            "id": "s1",
            "arguments": {"queries": ["a", "b"]},
            "signature": "sig",
        },
        {
            "type": "google_search_result",
            "call_id": "s1",
            "result": [{"search_suggestions": "<p/>"}],
        },
        {
            "type": "function_result",
            "call_id": "c1",
            "result": {"ok": True},
            "is_error": False,
            "name": "f",
        },
        {
            "type": "mcp_server_tool_call",
            "id": "m1",
            "name": "n",
            "server_name": "srv",
            "arguments": {"q": 1},
        },
    ]


def test_unknown_delta_and_unknown_step_are_kept() -> None:
    odd_step = {"type": "hologram", "id": "h1", "payload": {"x": [1, 2]}}
    assembler = fold(
        start(0, odd_step),
        delta(0, type="hologram_delta", frames=3),
        delta(0, frames=4),  # no type at all
        stop(0),
        start(1, {"type": "model_output", "content": []}),
        delta(1, type="text", text="ok"),
    )
    assert assembler.steps == [
        {
            **odd_step,
            UNKNOWN_DELTAS_KEY: [{"type": "hologram_delta", "frames": 3}, {"frames": 4}],
        },
        {"type": "model_output", "content": [{"type": "text", "text": "ok"}]},
    ]
    assert assembler.unknown_events == []


def test_unknown_and_malformed_events_are_recorded_not_applied() -> None:
    odd = [
        {"event_type": "interaction.hologram", "x": 1},
        {"event_type": "_raw", "data": "not json"},
        {"no_event_type": True},
        {"event_type": "step.delta", "delta": {"type": "text", "text": "x"}},  # no index
        {"event_type": "step.start", "index": "0", "step": {"type": "thought"}},
        {"event_type": "interaction.created", "interaction": "nope"},
    ]
    assembler = fold(*odd)
    assert assembler.unknown_events == odd
    assert assembler.steps == []
    assembler.feed("not even a dict")  # type: ignore[arg-type]
    assert assembler.unknown_events[-1] == "not even a dict"


def test_delta_without_start_creates_a_model_output_step() -> None:
    assembler = fold(
        delta(0, type="text", text="Hello"),
        delta(0, type="text", text=" there"),
        stop(0),
    )
    assert assembler.steps == [
        {"type": "model_output", "content": [{"type": "text", "text": "Hello there"}]}
    ]


def test_start_less_thought_and_tool_deltas_get_a_matching_shell() -> None:
    assembler = fold(
        delta(0, type="thought_signature", signature="s"),
        delta(1, type="code_execution_result", result="42\n"),
    )
    assert assembler.steps == [
        {"type": "thought", "signature": "s"},
        {"type": "code_execution_result", "result": "42\n"},
    ]


def test_index_gaps_are_fine() -> None:
    assembler = fold(
        start(1, {"type": "model_output", "content": []}),
        delta(1, type="text", text="b"),
        delta(4, type="text", text="e"),
        start(2, {"type": "thought"}),
    )
    assert [step["type"] for step in assembler.steps] == ["model_output", "thought", "model_output"]
    assert sorted(assembler.steps_by_index) == [1, 2, 4]


def test_stop_records_usage_on_the_assembler_not_in_the_step() -> None:
    running = {"total_tokens": 50}
    own = {"total_output_tokens": 20}
    assembler = fold(
        start(0, {"type": "model_output", "content": []}),
        {**delta(0, type="text", text="x"), "metadata": {"total_usage": {"total_tokens": 10}}},
    )
    assert assembler.usage == {"total_tokens": 10}
    assembler.feed(stop(0, usage=running, step_usage=own))
    assert assembler.steps == [{"type": "model_output", "content": [{"type": "text", "text": "x"}]}]
    assert assembler.usage == running
    assert assembler.step_usage == {0: own}


def test_interaction_lifecycle_and_checkpoint_tokens() -> None:
    assembler = fold(
        {
            "event_type": "interaction.created",
            "event_id": "e1",
            "interaction": {
                "id": "v1_a",
                "status": "in_progress",
                "object": "interaction",
                "agent": "deep-research-pro-preview-12-2025",
                "created": "2026-01-01T00:00:00Z",
            },
        },
        {
            "event_type": "interaction.status_update",
            "event_id": "e2",
            "interaction_id": "v1_a",
            "status": "in_progress",
            "continuation_token": "T1",
            "usage": {"total_tokens": 3},
        },
    )
    assert assembler.status == "in_progress"
    assert assembler.continuation_token == "T1"
    assert assembler.usage == {"total_tokens": 3}
    assert assembler.last_event_id == "e2"
    assert not assembler.done

    assembler.feed(
        {
            "event_type": "interaction.completed",
            "event_id": "e9",
            "interaction": {
                "id": "v1_a",
                "status": "requires_continuation",
                "continuation_token": "T2",
                "updated": "2026-01-01T00:01:00Z",
            },
        }
    )
    assert assembler.continuation_token == "T2"
    assert assembler.interaction == {
        "id": "v1_a",
        "status": "requires_continuation",
        "object": "interaction",
        "agent": "deep-research-pro-preview-12-2025",
        "created": "2026-01-01T00:00:00Z",
        "updated": "2026-01-01T00:01:00Z",
        "continuation_token": "T2",
        "usage": {"total_tokens": 3},
    }
    assert assembler.done and assembler.last_event_id == "e9"


def test_completed_without_a_token_clears_the_checkpoint() -> None:
    assembler = fold(
        {
            "event_type": "interaction.status_update",
            "interaction_id": "v1_a",
            "status": "in_progress",
            "continuation_token": "T1",
        },
        {
            "event_type": "interaction.completed",
            "interaction": {"id": "v1_a", "status": "completed"},
        },
    )
    assert assembler.continuation_token is None
    assert "continuation_token" not in assembler.interaction
    assert assembler.status == "completed"


def test_completed_with_steps_replaces_the_reconstruction() -> None:
    final_steps = [
        {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
        {"type": "model_output", "content": [{"type": "text", "text": "Hello!"}]},
    ]
    event = {
        "event_type": "interaction.completed",
        "interaction": {"id": "v1_a", "status": "completed", "steps": final_steps},
    }
    assembler = fold(
        start(1, {"type": "model_output", "content": []}),
        delta(1, type="text", text="Hel"),
        event,
    )
    assert assembler.steps == final_steps
    assert assembler.steps[0] is not final_steps[0]
    assert "steps" not in assembler.interaction
    assert assembler.finished_indices == {0, 1}


def test_completed_flushes_buffered_arguments_of_an_unstopped_step() -> None:
    assembler = fold(
        start(0, {"type": "function_call", "id": "c", "name": "f", "arguments": {}}),
        delta(0, type="arguments_delta", arguments='{"a": 1}'),
        {
            "event_type": "interaction.completed",
            "interaction": {"id": "v1_a", "status": "requires_action"},
        },
    )
    assert assembler.steps[0]["arguments"] == {"a": 1}


def test_error_event_ends_the_stream() -> None:
    error = {"code": "resource_exhausted", "message": "Quota"}
    assembler = fold(
        delta(0, type="text", text="partial"),
        {"event_type": "error", "event_id": "e5", "error": error},
    )
    assert assembler.error == error
    assert assembler.done
    assert assembler.last_event_id == "e5"
    assert assembler.steps[0]["content"] == [{"type": "text", "text": "partial"}]


def test_snapshot_is_a_deep_copy() -> None:
    assembler = fold(delta(0, type="text", text="a"))
    snapshot = assembler.snapshot()
    snapshot[0]["content"][0]["text"] = "changed"
    assert assembler.steps[0]["content"][0]["text"] == "a"


def test_restore_then_continue() -> None:
    saved = [
        {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
        {"type": "model_output", "content": [{"type": "text", "text": "Hel"}]},
    ]
    original = copy.deepcopy(saved)
    assembler = StepAssembler()
    assembler.restore(saved, last_event_id="e7")
    assert assembler.last_event_id == "e7"
    assert assembler.finished_indices == {0, 1}
    for event in (
        {**delta(1, type="text", text="lo"), "event_id": "e8"},
        {**stop(1), "event_id": "e9"},
        {**start(2, {"type": "thought"}), "event_id": "e10"},
        {**delta(2, type="thought_signature", signature="s"), "event_id": "e11"},
    ):
        assembler.feed(event)
    assert assembler.steps == [
        saved[0],
        {"type": "model_output", "content": [{"type": "text", "text": "Hello"}]},
        {"type": "thought", "signature": "s"},
    ]
    assert saved == original
    assert assembler.last_event_id == "e11"
    assert not assembler.is_finished(2)


def test_internal_state_does_not_leak_into_steps() -> None:
    assembler = fold(
        start(0, {"type": "function_call", "id": "c", "name": "f", "arguments": {}}),
        delta(0, type="arguments_delta", arguments='{"a"'),
        stop(0, usage={"total_tokens": 1}, step_usage={"total_tokens": 1}),
        start(1, {"type": "model_output", "content": []}),
        delta(1, type="text", text="x"),
    )
    for step in assembler.steps:
        assert not [key for key in step if key.startswith("_")]
