"""Google's "get started with the Interactions API" guides (../shared/seeds beside the clone):
every example response in them is real wire format."""

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def seeds_dir() -> Path:
    for candidate in (
        os.environ.get("CHATSITE_SEEDS"),
        ROOT.parent / "shared" / "seeds",
        "/work/shared/seeds",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    # CI lays shared/ beside the clone; elsewhere there may be none, and that is no failure.
    if os.environ.get("CI"):
        raise RuntimeError("the guides in ../shared/seeds are missing")
    pytest.skip("the guides (../shared/seeds) are not beside this clone")


def _json_objects(text: str):
    """Top-level `{...}` objects that start a line, parsed leniently (the guide's examples have
    trailing commas)."""
    i = 0
    while True:
        start = text.find("\n{", i)
        if start < 0:
            return
        start += 1
        depth, in_str, esc = 0, False, False
        for j in range(start, len(text)):
            ch = text[j]
            if in_str:
                esc = not esc and ch == "\\"
                if ch == '"' and not esc:
                    in_str = False
                elif ch != "\\":
                    esc = False
                continue
            if ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    raw = re.sub(r",(\s*[}\]])", r"\1", text[start : j + 1])
                    try:
                        obj = json.loads(raw)
                    except ValueError:
                        obj = None
                    if isinstance(obj, dict):
                        yield obj
                    i = j + 1
                    break
        else:
            return


def guide_examples() -> list[tuple[str, dict]]:
    """(file name, interaction) for every steps-revision example response in the guides."""
    out = []
    for path in sorted(seeds_dir().glob("*.txt")):
        for obj in _json_objects(path.read_text(encoding="utf-8")):
            if isinstance(obj.get("steps"), list) and obj["steps"]:
                out.append((path.name, obj))
    return out


def guide_streams() -> list[tuple[str, list[str]]]:
    """(file name, the `data:` lines of an example SSE stream) in the guides."""
    out = []
    for path in sorted(seeds_dir().glob("*.txt")):
        lines = [
            re.sub(r"^da ta :", "data:", line.strip())
            for line in path.read_text(encoding="utf-8").splitlines()
        ]
        data = [line for line in lines if line.startswith("data:")]
        if data:
            out.append((path.name, data))
    return out
