"""Values from JSON Schemas: structured output (``response_format.schema``) and function-call
arguments (a function tool's ``parameters``).

Deterministic and schema-driven: objects get their ``required`` properties (and the others,
unless asked for the required ones only), arrays honour ``minItems``/``maxItems``, strings
``enum``/``const``/``format``/``minLength``/``maxLength``/``pattern`` (run on RE2), numbers
their bounds. ``$ref`` to ``#/$defs/…`` or ``#/definitions/…`` is followed; ``anyOf``/``oneOf``
take the first usable branch, ``allOf`` is merged. Anything the generator cannot honour (a
``pattern`` no candidate matches or RE2 cannot run, unresolvable or too deeply recursive refs,
schemas too big) raises
:class:`SchemaTooComplex`, which the API turns into 400 INVALID_ARGUMENT — as the real API
does for "overly complex" schemas.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from typing import Any

from chatsite import safeschema

MAX_DEPTH = 12
MAX_NODES = 2_000
ARRAY_DEFAULT_ITEMS = 2
ARRAY_MAX_ITEMS = 25

TEXT_NAME_RE = re.compile(
    r"^(q|query|queries|expression|expr|text|input|prompt|question|message|search|"
    r"search_query|search_term|term|keywords?|content|statement|sentence|code|formula)$",
    re.IGNORECASE,
)


class SchemaTooComplex(ValueError):
    """The schema cannot be satisfied by the emulator (the API answers 400)."""


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def plausible_string(name: str, message: str, place: str) -> str:
    """A value a model would plausibly put in a string field called ``name``."""
    words = set(_words(name))
    lowered = name.lower()
    if TEXT_NAME_RE.match(name) or lowered.endswith(("_query", "_text", "_expression")):
        return message
    if "zone" in lowered or "tz" in words:
        return "Europe/Paris"
    if "unit" in lowered:
        return "celsius"
    if words & {"location", "city", "place", "address", "destination", "origin", "region"}:
        return place
    if "country" in words:
        return "France"
    if words & {"email", "mail"}:
        return "ada@example.com"
    if words & {"url", "link", "uri", "href", "website"}:
        return "https://www.example.com/"
    if words & {"language", "lang", "locale"}:
        return "en"
    if "currency" in words:
        return "EUR"
    if words & {"date", "day"}:
        return "2026-06-09"
    if "time" in words:
        return "12:00"
    if words & {"color", "colour"}:
        return "teal"
    if words & {"title", "subject", "headline"}:
        return _title(message)
    if words & {"summary", "description", "answer", "explanation", "reason", "notes", "body"}:
        return f"A short answer about {_title(message).lower() or 'the question'}."
    if words & {"author", "user", "username", "person", "owner", "customer", "contact"}:
        return "Ada Lovelace"
    if "name" in words:
        return _title(message) if len(words) > 1 else "Ada Lovelace"
    if words & {"id", "key", "identifier", "ref"}:
        return "item-1"
    if words & {"phone", "telephone"}:
        return "+33 1 23 45 67 89"
    if words & {"category", "type", "kind", "status", "mode", "level"}:
        return "general"
    return _title(message).split(" ")[0].lower() if message.strip() else "example"


def _title(message: str) -> str:
    words = [w for w in re.findall(r"[\w'-]+", message) if len(w) > 2][:6]
    return " ".join(words).capitalize() if words else "Untitled"


FORMAT_VALUES = {
    "date": "2026-06-09",
    "date-time": "2026-06-09T12:00:00Z",
    "time": "12:00:00",
    "email": "ada@example.com",
    "uri": "https://www.example.com/",
    "url": "https://www.example.com/",
    "uuid": "3f2b8c1e-5d4a-4e7b-9c1f-2a6d8e0b7c45",
    "hostname": "www.example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "PT1H",
}


class SchemaValues:
    """Walks one schema; ``string`` makes the leaf strings (from the property name)."""

    def __init__(
        self,
        root: Any,
        string: Callable[[str], str],
        *,
        required_only: bool = False,
    ) -> None:
        self.root = root if isinstance(root, dict) else {}
        self.string = string
        self.required_only = required_only
        self.nodes = 0
        self.item_index: list[int] = []  # positions in the arrays being filled

    # --- refs and combinators ---------------------------------------------------------------

    def _count(self) -> None:
        # Every value, `$ref` hop and `allOf` part counts: `allOf`s of `$ref`s fan out
        # exponentially in a few hundred bytes.
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SchemaTooComplex("the schema is too complex")

    def _resolve(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:  # `allOf`s within `allOf`s (or one that refers to itself)
            raise SchemaTooComplex("the schema nests too deeply")
        seen = 0
        while "$ref" in schema:
            self._count()
            ref = schema["$ref"]
            seen += 1
            if not isinstance(ref, str) or seen > MAX_DEPTH:
                raise SchemaTooComplex(f"cannot resolve $ref {ref!r}")
            target = self._lookup(ref)
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **merged}
        if "allOf" in schema and isinstance(schema["allOf"], list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                self._count()
                if isinstance(part, dict):
                    part = self._resolve(part, depth + 1)
                    merged = _merge(merged, part)
            schema = merged
        return schema

    def _lookup(self, ref: str) -> dict[str, Any]:
        if ref == "#":
            return self.root
        if not ref.startswith("#/"):
            raise SchemaTooComplex(f"only local $ref are supported, not {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SchemaTooComplex(f"cannot resolve $ref {ref!r}")
            node = node[part]
        if not isinstance(node, dict):
            raise SchemaTooComplex(f"$ref {ref!r} is not a schema")
        return node

    # --- values ------------------------------------------------------------------------------

    def value(self, schema: Any, name: str = "value", depth: int = 0) -> Any:
        self._count()
        if depth > MAX_DEPTH:
            raise SchemaTooComplex("the schema nests too deeply")
        if schema is True or schema is None or schema == {}:
            return self.string(name)
        if schema is False:
            raise SchemaTooComplex(f"'{name}' accepts no value")
        if not isinstance(schema, dict):
            raise SchemaTooComplex(f"'{name}' is not a schema")
        schema = self._resolve(schema, depth)
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return copy.deepcopy(enum[0])
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                chosen = next(
                    (b for b in branches if isinstance(b, dict) and b.get("type") != "null"),
                    branches[0],
                )
                return self.value(_merge(base, chosen), name, depth + 1)
        if "default" in schema:
            return copy.deepcopy(schema["default"])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            if "properties" in schema:
                kind = "object"
            elif "items" in schema:
                kind = "array"
            else:
                kind = "string"
        if isinstance(kind, str):
            kind = kind.lower()  # Gemini's OpenAPI-style schemas spell types in capitals
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "string":
            return self._string(schema, name)
        if kind == "integer":
            return self._integer(schema)
        if kind == "number":
            return self._number(schema)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        raise SchemaTooComplex(f"unsupported type {kind!r} for '{name}'")

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        if self.required_only and "required" in schema:
            names = [n for n in properties if n in required]
        else:
            names = list(properties)
        names += [r for r in required if r not in names]
        result: dict[str, Any] = {}
        for prop in names:
            result[prop] = self.value(properties.get(prop, {}), prop, depth + 1)
        wanted = schema.get("minProperties")
        extra = schema.get("additionalProperties", True)
        if isinstance(wanted, int) and len(result) < wanted:
            if extra is False:
                raise SchemaTooComplex("minProperties cannot be met")
            for i in range(len(result), wanted):
                result[f"extra_{i}"] = self.value(extra if isinstance(extra, dict) else {}, "x")
        return result

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        low = n if isinstance(n := schema.get("minItems"), int) else 0
        high = m if isinstance(m := schema.get("maxItems"), int) else None
        count = max(low, ARRAY_DEFAULT_ITEMS)
        if high is not None:
            count = min(count, high)
        if count > ARRAY_MAX_ITEMS:
            raise SchemaTooComplex(f"'{name}' needs more than {ARRAY_MAX_ITEMS} items")
        prefix = p if isinstance(p := schema.get("prefixItems"), list) else []
        items = schema.get("items", {})
        singular = name[:-1] if name.endswith("s") and len(name) > 3 else name
        values = []
        for i in range(count):
            item_schema = prefix[i] if i < len(prefix) else items
            self.item_index.append(i)
            try:
                value = self.value(item_schema, singular, depth + 1)
            finally:
                self.item_index.pop()
            if schema.get("uniqueItems") and value in values:
                value = _vary(value, i)
                if value in values:
                    raise SchemaTooComplex(f"'{name}' cannot hold {count} unique items")
            values.append(value)
        return values

    def _string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        value = FORMAT_VALUES.get(fmt) if isinstance(fmt, str) else None
        if value is None:
            value = self.string(name)
            if self.item_index and self.item_index[-1] > 0:
                value = f"{value} {self.item_index[-1] + 1}"  # items differ, like a model's
        low = n if isinstance(n := schema.get("minLength"), int) else 0
        high = m if isinstance(m := schema.get("maxLength"), int) else None
        if len(value) < low:
            value = value + "x" * (low - len(value))
        if high is not None and len(value) > high:
            value = value[:high]
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            value = _matching(pattern, value, low, high, name)
        return value

    def _integer(self, schema: dict[str, Any]) -> int:
        low, high = _bounds(schema, integer=True)
        value = 3
        if low is not None and value < low:
            value = math.ceil(low)
        if high is not None and value > high:
            value = math.floor(high)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            value = (value // step + 1) * step
            if high is not None and value > high:
                value -= step
        if (low is not None and value < low) or (high is not None and value > high):
            raise SchemaTooComplex("no integer fits the bounds")
        return value

    def _number(self, schema: dict[str, Any]) -> float | int:
        low, high = _bounds(schema, integer=False)
        value: float = 2.5
        if low is not None and value < low:
            value = low if schema.get("exclusiveMinimum") is None else low + 0.5
        if high is not None and value > high:
            value = high if schema.get("exclusiveMaximum") is None else high - 0.5
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            value = math.ceil(value / step) * step
        return value


def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float | None, float | None]:
    low = schema.get("minimum")
    high = schema.get("maximum")
    ex_low = schema.get("exclusiveMinimum")
    ex_high = schema.get("exclusiveMaximum")
    bump = 1 if integer else 1e-9
    if isinstance(ex_low, int | float) and not isinstance(ex_low, bool):
        low = ex_low + bump if low is None else max(low, ex_low + bump)
    if isinstance(ex_high, int | float) and not isinstance(ex_high, bool):
        high = ex_high - bump if high is None else min(high, ex_high - bump)
    low = low if isinstance(low, int | float) and not isinstance(low, bool) else None
    high = high if isinstance(high, int | float) and not isinstance(high, bool) else None
    return low, high


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        elif key == "required" and isinstance(merged.get(key), list) and isinstance(value, list):
            merged[key] = [*merged[key], *[r for r in value if r not in merged[key]]]
        else:
            merged[key] = value
    return merged


def _vary(value: Any, i: int) -> Any:
    if isinstance(value, str):
        return f"{value} {i + 1}"
    if isinstance(value, bool):
        return not value if i == 1 else value
    if isinstance(value, int | float):
        return value + i
    return value


def _matching(pattern: str, value: str, low: int, high: int | None, name: str) -> str:
    # The pattern is the caller's: RE2, never a backtracking engine (safeschema.py).
    try:
        compiled = safeschema.compile_pattern(pattern)
    except safeschema.UnsafePattern as exc:
        raise SchemaTooComplex(f"'{name}': {exc}") from exc
    candidates = [value, "item-1", "abc", "ABC", "a1", "A1", "123", "1", "a", "x", "2026-06-09"]
    for candidate in candidates:
        fits = len(candidate) >= low and (high is None or len(candidate) <= high)
        if fits and compiled.search(candidate):
            return candidate
    raise SchemaTooComplex(f"the pattern of '{name}' is too complex: {pattern!r}")


def values_for(schema: Any, string: Callable[[str], str], *, required_only: bool = False) -> Any:
    """A value that validates against ``schema``; raises :class:`SchemaTooComplex`."""
    return SchemaValues(schema, string, required_only=required_only).value(schema)
