"""JSON and JSON Schemas written by people, handled so that none can freeze the process.

A person's structured-output schema is checked against the model's answer (the chat), and the
emulator fills schemas with values. Three things here keep that bounded:

- regular expressions from a schema (`pattern`, `patternProperties`) run on RE2, which cannot
  backtrack: `(x+x+)+y` against a long key takes microseconds, not the seconds Python's `re`
  spends while holding the GIL (a thread does not help: nothing else in the process runs);
- `check()` validates under a deadline, never fetches a remote `$ref`, and says "not checked"
  rather than guess when it cannot finish;
- `nesting_depth()` measures JSON nesting without recursion, so deeply nested input is refused
  with a clear message before `json.loads` raises RecursionError.

Django-free: the emulator uses it too.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
import time
from typing import Any

import re2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend, validator_for
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing.exceptions import Unresolvable

CHECK_SECONDS = 2.0  # one answer's check; past this the verdict is "not checked"
MAX_PROBLEM_CHARS = 300

__all__ = [
    "CHECK_SECONDS",
    "TooDeep",
    "UnsafePattern",
    "check",
    "compile_pattern",
    "loads",
    "nesting_depth",
]


class UnsafePattern(ValueError):
    """A pattern RE2 cannot run (look-around, back-references, huge repeats, bad syntax)."""


class TooDeep(ValueError):
    """JSON nested deeper than allowed."""


class _Unchecked(Exception):  # noqa: N818 - a signal inside check(), never escapes it
    """The check cannot give a verdict it can stand behind."""


# -- JSON nesting ---------------------------------------------------------------------------

# On RE2: with Python's `re`, text full of `\"` would take quadratic time to strip. Byte by
# byte (Latin-1): in UTF-8 no byte of another character is a quote or a backslash.
_BYTES = re2.Options()
_BYTES.encoding = re2.Options.Encoding.LATIN1
_BYTES.dot_nl = True
_STRING = re2.compile(rb'"(?:[^"\\]|\\.)*"', _BYTES)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(text: str | bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (well-formed or not), without
    recursing, in linear time."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
    if data.count(b"[") + data.count(b"{") <= 1:
        return data.count(b"[") + data.count(b"{")
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", data)):
        if match.group() in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


def loads(text: str | bytes, *, max_depth: int) -> Any:
    """`json.loads`, refusing (TooDeep) JSON nested deeper than `max_depth`."""
    if isinstance(text, bytes | bytearray):
        opens = text.count(b"[") + text.count(b"{")
    else:
        opens = text.count("[") + text.count("{")
    depth = nesting_depth(text) if opens > max_depth else 0  # fewer cannot nest deeper
    if depth > max_depth:
        raise TooDeep(f"it nests {depth:,} levels deep; the limit is {max_depth}")
    try:
        return json.loads(text)
    except RecursionError:  # only if max_depth is set near the interpreter's own limit
        raise TooDeep(f"it nests too deeply; the limit is {max_depth}") from None


# -- regular expressions --------------------------------------------------------------------

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is ours to report, not stderr noise
_OPTIONS.max_mem = 8 << 20
_ECMA_U = re.compile(r"\\(\\|u([0-9A-Fa-f]{4}))")


def _from_ecma(pattern: str) -> str:
    """JSON Schema patterns are ECMA-262: `\\uXXXX` is RE2's `\\x{XXXX}`."""
    return _ECMA_U.sub(lambda m: rf"\x{{{m.group(2)}}}" if m.group(2) else m.group(0), pattern)


def compile_pattern(pattern: str):
    """A compiled RE2 pattern (search semantics, as JSON Schema means); UnsafePattern if RE2
    cannot run it."""
    if not isinstance(pattern, str):
        raise UnsafePattern("a pattern must be a string")
    return _compile(pattern)


@functools.lru_cache(maxsize=512)
def _compile(pattern: str):
    try:
        return re2.compile(_from_ecma(pattern), _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "not supported"
        if isinstance(reason, bytes | bytearray):
            reason = reason.decode(errors="replace")
        raise UnsafePattern(
            f"the pattern {_short(pattern)} cannot be checked safely ({reason}); look-around "
            "and back-references are not supported"
        ) from None


def _search(pattern: str, text: str) -> bool:
    try:
        return compile_pattern(pattern).search(text) is not None
    except UnsafePattern as exc:
        raise _Unchecked(str(exc)) from None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the validator ---------------------------------------------------------------------------
# jsonschema runs `pattern`, `patternProperties` and the `patternProperties` part of
# `additionalProperties` with Python's `re`; these three run on RE2 instead. Every keyword
# first looks at the deadline, so a schema that makes validation explode (nested `allOf`/`$ref`
# fan-out) stops instead of running on.

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("schema_deadline")


def _pattern(validator, patrn, instance, schema):
    if validator.is_type(instance, "string") and not _search(patrn, instance):
        yield ValidationError(f"{_short(instance)} does not match {_short(patrn)}")


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for patrn, subschema in patterns.items():
        for key, value in instance.items():
            if _search(patrn, key):
                yield from validator.descend(value, subschema, path=key, schema_path=patrn)


def _additional_properties(original):
    def keyword(validator, additional, instance, schema):
        patterns = schema.get("patternProperties")
        if not patterns or not validator.is_type(instance, "object"):
            yield from original(validator, additional, instance, schema)  # no regex involved
            return
        properties = schema.get("properties", {})
        extras = sorted(
            (
                key
                for key in instance
                if key not in properties and not any(_search(p, key) for p in patterns)
            ),
            key=str,
        )
        if validator.is_type(additional, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], additional, path=extra)
        elif not additional and extras:
            verb = "does" if len(extras) == 1 else "do"
            names = ", ".join(_short(e) for e in extras[:5])
            yield ValidationError(f"{names} {verb} not match any of the schema's regexes")

    return keyword


def _timed(function):
    def keyword(validator, value, instance, schema):
        if time.monotonic() > _deadline.get():
            raise _Unchecked("checking took too long")
        return function(validator, value, instance, schema)

    return keyword


@functools.cache
def _safe(base):
    keywords = dict(base.VALIDATORS)
    keywords["pattern"] = _pattern
    keywords["patternProperties"] = _pattern_properties
    if "additionalProperties" in keywords:
        keywords["additionalProperties"] = _additional_properties(keywords["additionalProperties"])
    return extend(base, {name: _timed(fn) for name, fn in keywords.items()})


def _verdict(valid: bool | None, problem: str = "") -> dict:
    if len(problem) > MAX_PROBLEM_CHARS:
        problem = problem[: MAX_PROBLEM_CHARS - 1] + "…"
    return {"valid": valid, "problem": problem}


def check(instance: Any, schema: Any, *, seconds: float = CHECK_SECONDS) -> dict:
    """Whether `instance` matches `schema`: `{"valid": True | False | None, "problem": str}`.
    `valid` is None when the check could not be done (a pattern RE2 cannot run, a `$ref` we
    will not fetch, the deadline) and `problem` says why. Never raises, never backtracks."""
    if schema is True or schema == {}:
        return _verdict(True)
    if not isinstance(schema, dict):
        return _verdict(None, "the schema is not an object")
    text = json.dumps(schema)
    if "unevaluatedProperties" in text and "patternProperties" in text:
        # jsonschema's unevaluatedProperties runs patternProperties on `re` internally.
        return _verdict(None, "unevaluatedProperties with patternProperties is not checked")
    token = _deadline.set(time.monotonic() + seconds)
    try:
        validator = _safe(validator_for(schema, default=Draft202012Validator))(
            schema,
            registry=SPECIFICATIONS,  # no retrieval: a remote $ref is not fetched
        )
        error = next(iter(validator.iter_errors(instance)), None)
    except _Unchecked as exc:
        return _verdict(None, str(exc))
    except RecursionError:
        return _verdict(None, "the schema or the answer nests too deeply to check")
    except Unresolvable as exc:
        return _verdict(None, f"a $ref could not be followed ({_short(getattr(exc, 'ref', ''))})")
    except Exception as exc:  # an unresolvable $ref, a schema jsonschema cannot use
        return _verdict(None, f"the schema could not be used ({type(exc).__name__})")
    finally:
        _deadline.reset(token)
    if error is None:
        return _verdict(True)
    where = "/".join(str(p) for p in error.absolute_path)
    return _verdict(False, f"{where}: {error.message}" if where else error.message)
