"""Real media, made up deterministically: a tiny PNG encoder and a WAV tone generator.

No imaging or audio libraries: zlib + struct for PNG, the ``wave`` module for WAV. Pictures are
drawn row by row from flat spans (a vertical gradient, discs, bars), so even 1024 px images take
a few milliseconds and compress to a few kilobytes.
"""

from __future__ import annotations

import base64
import io
import math
import random
import re
import struct
import sys
import wave
import zlib
from array import array
from dataclasses import dataclass
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 1024  # the emulator's pixels stay small, whatever size was asked for
IMAGE_SIZES = {"512": 512, "1K": 1024, "2K": 1024, "4K": 1024}
DEFAULT_LONG_SIDE = 1024
RATIO_RE = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")

SAMPLE_RATE = 24_000  # what Gemini's TTS models produce
TONE_MS = 160


# --- PNG -------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, rows: list[bytes]) -> bytes:
    """8-bit RGB PNG from ``height`` rows of ``3 * width`` bytes (filter type 0 on every row)."""
    if len(rows) != height or any(len(row) != 3 * width for row in rows):
        raise ValueError("rows do not match width x height")
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def image_dimensions(aspect_ratio: Any = None, image_size: Any = None) -> tuple[int, int]:
    """Width x height for an aspect ratio ("16:9") and size ("512", "1K", …), long side ≤ 1024."""
    long_side = IMAGE_SIZES.get(str(image_size), DEFAULT_LONG_SIDE) if image_size else None
    long_side = min(MAX_SIDE, long_side or DEFAULT_LONG_SIDE)
    w_ratio, h_ratio = 1, 1
    match = RATIO_RE.match(aspect_ratio) if isinstance(aspect_ratio, str) else None
    if match and int(match.group(1)) > 0 and int(match.group(2)) > 0:
        w_ratio, h_ratio = int(match.group(1)), int(match.group(2))
    if w_ratio >= h_ratio:
        return long_side, max(1, round(long_side * h_ratio / w_ratio))
    return max(1, round(long_side * w_ratio / h_ratio)), long_side


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> bytes:
    return bytes(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def _color(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def draw_picture(seed: bytes, width: int, height: int) -> list[bytes]:
    """A deterministic picture: a gradient sky, a sun, hills and a few bars (rows of RGB)."""
    rng = random.Random(int.from_bytes(seed[:8].ljust(8, b"\0"), "big"))
    top, bottom = _color(rng), _color(rng)
    discs = []
    for _ in range(rng.randint(2, 4)):
        radius = max(1, round(min(width, height) * rng.uniform(0.08, 0.28)))
        discs.append(
            (rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height, radius, _color(rng))
        )
    hill_color = _color(rng)
    hill_base = rng.uniform(0.6, 0.85) * height
    hill_amp = rng.uniform(0.04, 0.12) * height
    hill_wave = rng.uniform(1.0, 3.0)
    bars = [
        (rng.randrange(width), max(1, width // rng.randint(20, 60)), _color(rng))
        for _ in range(rng.randint(1, 3))
    ]
    rows: list[bytes] = []
    for y in range(height):
        row = bytearray(_mix(top, bottom, y / max(1, height - 1)) * width)
        for x0, bar_width, color in bars:
            if y % 8 < 6:  # dashed
                end = min(width, x0 + bar_width)
                row[3 * x0 : 3 * end] = bytes(color) * (end - x0)
        for cx, cy, radius, color in discs:
            dy = y + 0.5 - cy
            if abs(dy) < radius:
                half = math.sqrt(radius * radius - dy * dy)
                start, end = max(0, round(cx - half)), min(width, round(cx + half))
                if end > start:
                    row[3 * start : 3 * end] = bytes(color) * (end - start)
        # Hills: below a sine-shaped horizon, sampled every 16 px for speed.
        step = 16
        for x in range(0, width, step):
            horizon = hill_base + hill_amp * math.sin(hill_wave * math.tau * x / width)
            if y >= horizon:
                end = min(width, x + step)
                row[3 * x : 3 * end] = bytes(hill_color) * (end - x)
        rows.append(bytes(row))
    return rows


def make_png(seed: bytes, width: int, height: int) -> bytes:
    return encode_png(width, height, draw_picture(seed, width, height))


@dataclass(frozen=True)
class PngInfo:
    width: int
    height: int
    pixels: bytes  # filtered scanlines, as inflated from IDAT


def read_png(data: bytes) -> PngInfo:
    """Minimal reader for the PNGs written here (tests): checks CRCs, inflates IDAT."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    position = len(PNG_SIGNATURE)
    width = height = 0
    idat = b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in {kind!r}")
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        position += 12 + length
    return PngInfo(width, height, zlib.decompress(idat))


# --- WAV -------------------------------------------------------------------------------------

SCALE = (261.63, 293.66, 329.63, 349.23, 392.00, 440.00, 493.88, 523.25)


def make_wav(seed: bytes, notes: int = 4, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM WAV: ``notes`` short sine tones (with tiny fades) picked from the seed."""
    rng = random.Random(int.from_bytes(seed[:8].ljust(8, b"\0"), "big"))
    per_note = sample_rate * TONE_MS // 1000
    fade = max(1, per_note // 10)
    samples = array("h")
    for _ in range(notes):
        frequency = rng.choice(SCALE)
        step = math.tau * frequency / sample_rate
        for i in range(per_note):
            envelope = min(1.0, i / fade, (per_note - i) / fade)
            samples.append(int(9000 * envelope * math.sin(step * i)))
    if samples.itemsize != 2:  # pragma: no cover - every CPython has a 2-byte short
        raise RuntimeError("array('h') is not 16-bit here")
    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
