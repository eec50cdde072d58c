"""Thinking, images, audio and structured (JSON) output."""

from __future__ import annotations

import base64
import io
import json
import struct
import wave
import zlib

import httpx
import pytest

from chatsite.emulator import media, schema

from .conftest import MODEL, create, create_stream, events_of
from .schema_check import errors

# --- thinking ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "summary"),
    [
        ({"thinking_level": "low"}, False),
        ({"thinking_level": "minimal"}, False),
        ({"thinking_level": "low", "thinking_summaries": "auto"}, True),
        ({"thinking_level": "medium"}, True),
        ({"thinking_level": "high"}, True),
        ({"thinking_level": "xhigh"}, True),
        ({"thinking_level": "high", "thinking_summaries": "none"}, False),
    ],
)
def test_thought_summaries(client: httpx.Client, config: dict, summary: bool) -> None:
    events = events_of(create_stream(client, "Why is the sky blue?", generation_config=config))
    thought = events[-1]["interaction"]["steps"][1]
    assert thought["type"] == "thought"
    assert len(base64.b64decode(thought["signature"], validate=True)) == 96
    fragments = [
        e["delta"]["content"]
        for e in events
        if e["event_type"] == "step.delta" and e["delta"]["type"] == "thought_summary"
    ]
    if not summary:
        assert "summary" not in thought and fragments == []
        return
    assert len(fragments) >= 3  # streamed in several fragments…
    assert all(f["type"] == "text" for f in fragments)
    # …that join into one text block
    assert thought["summary"] == [{"type": "text", "text": "".join(f["text"] for f in fragments)}]
    assert "Why is the sky blue?" in thought["summary"][0]["text"]
    signature_delta = [e for e in events if e.get("delta", {}).get("type") == "thought_signature"]
    assert len(signature_delta) == 1


def test_thought_summary_mentions_the_tools(client: httpx.Client) -> None:
    body = create(
        client,
        "Tea",
        tools=[{"type": "google_search"}, {"type": "code_execution"}],
        generation_config={"thinking_level": "high"},
    ).json()
    assert (
        "I will use Google Search, code execution first." in body["steps"][1]["summary"][0]["text"]
    )


# --- images --------------------------------------------------------------------------------


def png_of(step: dict) -> tuple[bytes, media.PngInfo]:
    block = next(b for b in step["content"] if b["type"] == "image")
    assert block["mime_type"] == "image/png"
    data = base64.b64decode(block["data"], validate=True)
    return data, media.read_png(data)


def assert_png(data: bytes, width: int, height: int) -> None:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (width, height)
    assert data[24:26] == b"\x08\x02"  # 8-bit RGB
    # inflate every IDAT and check the scanlines: one filter byte + 3 bytes per pixel
    position, idat = 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        if data[position + 4 : position + 8] == b"IDAT":
            idat += data[position + 8 : position + 8 + length]
        position += 12 + length
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"model": "gemini-3.1-flash-image"}, (1024, 1024)),
        (
            {
                "model": "gemini-2.5-flash-image",
                "response_format": {"type": "image", "aspect_ratio": "16:9"},
            },
            (1024, 576),
        ),
        (
            {"response_format": {"type": "image", "aspect_ratio": "9:16", "image_size": "512"}},
            (288, 512),
        ),
        (
            {
                "response_format": [
                    {"type": "text"},
                    {"type": "image", "aspect_ratio": "4:3", "image_size": "4K"},
                ]
            },
            (1024, 768),
        ),
        (
            {
                "response_modalities": ["image"],
                "generation_config": {"image_config": {"aspect_ratio": "1:8"}},
            },
            (128, 1024),
        ),
    ],
)
def test_image_output_is_a_real_png(client: httpx.Client, fields: dict, size: tuple) -> None:
    body = {"model": MODEL, "input": "A lighthouse at dusk", **fields}
    events = events_of(client.post("/interactions", json={**body, "stream": True}).text)
    output = events[-1]["interaction"]["steps"][-1]
    data, info = png_of(output)
    assert_png(data, *size)
    assert (info.width, info.height) == size
    image_deltas = [e["delta"] for e in events if e.get("delta", {}).get("type") == "image"]
    assert len(image_deltas) == 1 and image_deltas[0] == output["content"][-1]
    kinds = [b["type"] for b in output["content"]]
    only_image = "response_modalities" in fields or (
        isinstance(fields.get("response_format"), dict)
    )
    assert kinds == (["image"] if only_image else ["text", "image"])
    again = client.post("/interactions", json=body).json()["steps"][-1]
    assert again["content"][-1]["data"] == output["content"][-1]["data"]  # deterministic
    other = client.post("/interactions", json={**body, "input": "A forest"}).json()["steps"][-1]
    assert other["content"][-1]["data"] != output["content"][-1]["data"]


def test_png_encoder_round_trip() -> None:
    rows = [bytes([x, y, (x * y) % 256]) * 1 for y in range(3) for x in range(1)]
    data = media.encode_png(1, 3, rows)
    info = media.read_png(data)
    assert (info.width, info.height) == (1, 3)
    assert info.pixels == b"".join(b"\x00" + row for row in rows)
    with pytest.raises(ValueError):
        media.encode_png(2, 3, rows)


# --- audio ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"model": "gemini-3.1-flash-tts-preview"},
        {"response_format": {"type": "audio", "mime_type": "audio/wav", "sample_rate": 16000}},
    ],
)
def test_audio_output_is_a_real_wav(client: httpx.Client, fields: dict) -> None:
    body = {"model": MODEL, "input": "Say hello", **fields}
    output = client.post("/interactions", json=body).json()["steps"][-1]
    [block] = output["content"]
    assert block["type"] == "audio" and block["mime_type"] == "audio/wav"
    rate = fields.get("response_format", {}).get("sample_rate", 24000)
    assert block["sample_rate"] == rate and block["channels"] == 1
    with wave.open(io.BytesIO(base64.b64decode(block["data"]))) as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.getframerate() == rate
        seconds = wav.getnframes() / rate
        assert 0.3 <= seconds <= 1.0
        frames = wav.readframes(wav.getnframes())
    assert any(frames)  # not silence


# --- structured output ---------------------------------------------------------------------

SCHEMAS = [
    {
        "type": "object",
        "properties": {
            "recipe_name": {"type": "string"},
            "servings": {"type": "integer", "minimum": 2, "maximum": 12},
            "vegan": {"type": "boolean"},
            "difficulty": {"type": "string", "enum": ["easy", "medium", "hard"]},
            "ingredients": {
                "type": "array",
                "minItems": 4,
                "maxItems": 6,
                "items": {"$ref": "#/$defs/ingredient"},
            },
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 1},
            "notes": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 10}]},
        },
        "required": ["recipe_name", "ingredients", "servings"],
        "additionalProperties": False,
        "$defs": {
            "ingredient": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 3},
                    "grams": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
                    "date": {"type": "string", "format": "date"},
                },
                "required": ["name", "grams"],
            }
        },
    },
    {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 3},
    {
        "type": "object",
        "properties": {
            "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]},
            "id": {"type": "string", "pattern": "^[a-z]+-[0-9]+$"},
            "level": {"type": "integer", "multipleOf": 5, "minimum": 7},
            "kind": {"const": "fixed"},
        },
        "required": ["point", "id", "level", "kind"],
    },
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "number"}}, "required": ["b"]},
        ]
    },
    {"type": "OBJECT", "properties": {"answer": {"type": "STRING"}}},  # Gemini's OpenAPI style
]


@pytest.mark.parametrize("schema_", SCHEMAS)
def test_structured_output_validates_against_the_schema(
    client: httpx.Client, schema_: dict
) -> None:
    response_format = {"type": "text", "mime_type": "application/json", "schema": schema_}
    events = events_of(
        create_stream(client, "A cookie recipe, please", response_format=response_format)
    )
    output = events[-1]["interaction"]["steps"][-1]
    text = output["content"][0]["text"]
    value = json.loads(text)
    assert errors(value, schema_) == []
    deltas = [e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text"]
    assert len(deltas) > 1 and "".join(deltas) == text  # streamed as text deltas
    again = create(client, "A cookie recipe, please", response_format=response_format).json()
    assert again["steps"][-1]["content"][0]["text"] == text


def test_structured_array_items_differ(client: httpx.Client) -> None:
    response_format = {"type": "text", "mime_type": "application/json", "schema": SCHEMAS[0]}
    body = create(client, "Pancakes", response_format=response_format).json()
    value = json.loads(body["steps"][-1]["content"][0]["text"])
    names = [item["name"] for item in value["ingredients"]]
    assert len(set(names)) == len(names)


def test_json_without_schema(client: httpx.Client) -> None:
    body = create(client, "hi", response_mime_type="application/json").json()
    assert isinstance(json.loads(body["steps"][-1]["content"][0]["text"]), dict)


@pytest.mark.parametrize(
    "schema_",
    [
        {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
        {"$ref": "https://example.com/schema.json"},
        {"$ref": "#/$defs/missing"},
        {"$ref": "#/$defs/node", "$defs": {"node": {"$ref": "#/$defs/node"}}},
        {"type": "array", "items": {"type": "integer"}, "minItems": 500},
        {"type": "tuple"},
    ],
)
def test_overly_complex_schemas_are_rejected(client: httpx.Client, schema_: dict) -> None:
    response_format = {"type": "text", "mime_type": "application/json", "schema": schema_}
    response = create(client, "hi", response_format=response_format)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_recursive_schema_depth_is_bounded() -> None:
    tree = {
        "type": "object",
        "properties": {"child": {"$ref": "#"}},
        "required": ["child"],
    }
    with pytest.raises(schema.SchemaTooComplex):
        schema.values_for(tree, lambda name: "x")
    optional = {"type": "object", "properties": {"child": {"$ref": "#"}}, "required": []}
    assert schema.values_for(optional, lambda name: "x", required_only=True) == {}
