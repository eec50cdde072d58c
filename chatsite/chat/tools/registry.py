"""A tiny registry of server-side function tools.

A tool is a plain synchronous Python function with a JSON Schema for its arguments::

    @tool("echo", "Repeat the text back.", {"type": "object", "properties": {...}})
    def echo(text: str) -> dict: ...

``Tool.declaration()`` is the Interactions API's ``function`` tool (§3.3). ``call()`` runs one
``function_call`` step's ``name`` and ``arguments`` and returns the fields of the matching
``function_result`` step (§5), ``{"result": ..., "is_error": bool}``; it never raises for
anything a tool or a model does: unknown names, invalid arguments, exceptions and timeouts all
become ``{"result": {"error": "..."}, "is_error": True}``. Results are made JSON-safe and
bounded in size before they are returned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import inspect
import json
import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
MAX_STRING_CHARS = 4_000  # any one string in a result
MAX_ITEMS = 200  # any one list or object in a result
MAX_DEPTH = 12  # nesting of lists and objects in a result
MAX_RESULT_CHARS = 16_000  # the whole result, as JSON
MAX_ERROR_CHARS = 1_000  # an error message


class ToolError(Exception):
    """Raised by a tool for a failure the model should read as is (bad input, no answer)."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    func: Callable[..., Any] = field(compare=False)
    validator: Draft202012Validator = field(compare=False, repr=False)

    def declaration(self) -> dict[str, Any]:
        """The API's function tool: ``{"type": "function", name, description, parameters}``."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": json.loads(json.dumps(self.parameters)),  # a copy callers may change
        }


REGISTRY: dict[str, Tool] = {}


def tool(name: str, description: str, parameters: Mapping[str, Any]):
    """Register the decorated function as the tool ``name``; the function is returned unchanged.

    ``parameters`` is the JSON Schema of the arguments object; it must be a valid schema of
    ``"type": "object"``. Registering a name twice is an error (``unregister`` it first).
    """
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValueError(f"tool name must be a non-empty string of at most 64 chars: {name!r}")
    if not description:
        raise ValueError(f"tool {name!r} needs a description")
    schema = json.loads(json.dumps(parameters))  # plain JSON, and our own copy
    if schema.get("type") != "object":
        raise ValueError(f"tool {name!r}: parameters must be a JSON Schema of type 'object'")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"tool {name!r}: invalid parameters schema: {exc.message}") from exc

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(func):
            raise TypeError(f"tool {name!r} must be a plain (sync) function")
        if name in REGISTRY:
            raise ValueError(f"tool {name!r} is already registered")
        REGISTRY[name] = Tool(name, description, schema, func, Draft202012Validator(schema))
        return func

    return register


def unregister(name: str) -> None:
    """Remove a tool (tests register throwaway tools and remove them again)."""
    REGISTRY.pop(name, None)


def declarations(names: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Function-tool declarations for ``names`` (all tools when None), sorted by name.

    Names without a registered tool (e.g. an admin's row for a tool since removed) are skipped.
    """
    wanted = REGISTRY.keys() if names is None else [n for n in names if n in REGISTRY]
    return [REGISTRY[n].declaration() for n in sorted(set(wanted))]


def _error(message: str) -> dict[str, Any]:
    return {"result": {"error": _truncate(message, MAX_ERROR_CHARS)}, "is_error": True}


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [truncated {len(text) - limit} characters]"


def _argument_errors(spec: Tool, arguments: dict[str, Any]) -> str | None:
    errors = sorted(spec.validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    parts = []
    for error in errors[:3]:
        where = "/".join(str(p) for p in error.absolute_path)
        message = _truncate(error.message, 300)
        parts.append(f"{where}: {message}" if where else message)
    if len(errors) > 3:
        parts.append(f"and {len(errors) - 3} more")
    return "; ".join(parts)


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` with long strings, lists and objects cut short."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _truncate(value, MAX_STRING_CHARS)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return _jsonable(float(value), depth) if value.is_finite() else str(value)
    if depth >= MAX_DEPTH:
        return "… [nested too deeply]"
    if isinstance(value, Mapping):
        out = {}
        for i, (key, item) in enumerate(value.items()):
            if i == MAX_ITEMS:
                out["…"] = f"[{len(value) - MAX_ITEMS} more entries truncated]"
                break
            out[_truncate(str(key), 200)] = _jsonable(item, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        listed = [_jsonable(item, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            listed.append(f"… [{len(items) - MAX_ITEMS} more items truncated]")
        return listed
    return _truncate(repr(value), MAX_STRING_CHARS)


def _is_content_list(value: Any) -> bool:
    return bool(value) and all(
        isinstance(v, dict) and isinstance(v.get("type"), str) for v in value
    )


def _as_result(value: Any) -> dict[str, Any] | str | list[Any]:
    """The step's ``result``: an object, a string or a list of Content; anything else is
    wrapped as ``{"value": ...}``. Bounded to ``MAX_RESULT_CHARS`` of JSON."""
    value = _jsonable(value)
    if not isinstance(value, dict | str) and not (
        isinstance(value, list) and _is_content_list(value)
    ):
        value = {"value": value}
    encoded = json.dumps(value, ensure_ascii=False)
    if len(encoded) > MAX_RESULT_CHARS:
        value = {"truncated": True, "partial_json": encoded[: MAX_RESULT_CHARS - 200]}
    return value


def _run(spec: Tool, arguments: dict[str, Any]) -> tuple[bool, Any]:
    """In the worker thread: run the tool and shape its result; (ok, result or message)."""
    try:
        return True, _as_result(spec.func(**arguments))
    except ToolError as exc:
        return False, str(exc) or f"{spec.name} failed"
    except TypeError as exc:
        # Most often arguments the schema allows but the function does not take.
        log.warning("tool %s rejected its arguments", spec.name, exc_info=True)
        return False, f"{spec.name} failed: {exc}"
    except Exception as exc:
        log.exception("tool %s raised", spec.name)
        return False, f"{spec.name} failed: {type(exc).__name__}: {exc}"
    except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by tool code
        log.error("tool %s raised %s", spec.name, type(exc).__name__)
        return False, f"{spec.name} failed: {type(exc).__name__}"


async def call(
    name: object,  # as the model sent it: anything but a known name is refused
    arguments: Any,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    allowed: Collection[str] | None = None,
) -> dict[str, Any]:
    """Run tool ``name`` with ``arguments``; return ``{"result": ..., "is_error": bool}``.

    ``allowed``, when given, is the set of tool names switched on; any other name is refused
    with an error result (a model may name a tool it was not offered). The function runs in a worker
    thread; after ``timeout`` seconds the call answers with an error (Python cannot stop the
    thread, so tools must bound their own work). Never raises, except when the caller's own
    task is cancelled.
    """
    if (
        not isinstance(name, str)
        or name not in REGISTRY
        or (allowed is not None and name not in allowed)
    ):
        known = sorted(REGISTRY if allowed is None else set(allowed) & REGISTRY.keys())
        listing = ", ".join(known) if known else "none"
        if isinstance(name, str) and name in REGISTRY:  # there, but not for this call
            return _error(
                f"The tool {name!r} is not switched on for this conversation. "
                f"Available tools: {listing}."
            )
        return _error(f"Unknown tool {str(name)[:100]!r}. Available tools: {listing}.")
    spec = REGISTRY[name]
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return _error(
            f"Invalid arguments for {name}: expected a JSON object, got {type(arguments).__name__}."
        )
    try:
        problem = _argument_errors(spec, arguments)
    except Exception as exc:  # a pathological argument value (e.g. too deeply nested)
        problem = f"could not be checked ({type(exc).__name__})"
    if problem:
        return _error(f"Invalid arguments for {name}: {problem}")
    try:
        ok, outcome = await asyncio.wait_for(asyncio.to_thread(_run, spec, arguments), timeout)
    except TimeoutError:
        log.warning("tool %s timed out after %ss", name, timeout)
        return _error(f"{name} timed out after {timeout:g} seconds.")
    except Exception as exc:  # e.g. no worker thread while the process shuts down
        # (CancelledError is not an Exception: the caller's own cancellation propagates.)
        log.exception("tool %s could not be run", name)
        return _error(f"{name} could not be run: {type(exc).__name__}")
    if not ok:
        return _error(outcome)
    return {"result": outcome, "is_error": False}


def function_result_step(call_step: Mapping[str, Any], outcome: Mapping[str, Any]) -> dict:
    """The ``function_result`` step answering ``call_step`` (a ``function_call`` step) with
    ``outcome`` (what :func:`call` returned); ``is_error`` is omitted when false."""
    step = {
        "type": "function_result",
        "call_id": call_step["id"],
        "name": call_step["name"],
        "result": outcome["result"],
    }
    if outcome.get("is_error"):
        step["is_error"] = True
    return step
