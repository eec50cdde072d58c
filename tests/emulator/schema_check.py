"""A tiny JSON Schema validator for the tests (``jsonschema`` is not installed in the venv).

Independent of the emulator's generator: it covers the keywords the structured-output tests
use — type, enum, const, properties/required/additionalProperties, items/prefixItems,
minItems/maxItems/uniqueItems, minLength/maxLength/pattern/format(date), numeric bounds,
multipleOf, $ref (local), anyOf/oneOf/allOf.
"""

from __future__ import annotations

import re
from typing import Any

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def errors(value: Any, schema: Any, root: Any = None, path: str = "$") -> list[str]:
    root = schema if root is None else root
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{path}: nothing is allowed"]
    found: list[str] = []
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            if part:
                target = target[part]
        found += errors(value, target, root, path)
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(TYPES[k.lower()](value) for k in kinds):
            return [*found, f"{path}: {value!r} is not of type {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in enum")
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: {value!r} != const")
    for sub in schema.get("allOf", []):
        found += errors(value, sub, root, path)
    if "anyOf" in schema and all(errors(value, s, root, path) for s in schema["anyOf"]):
        found.append(f"{path}: matches no anyOf branch")
    if "oneOf" in schema:
        matches = sum(not errors(value, s, root, path) for s in schema["oneOf"])
        if matches != 1:
            found.append(f"{path}: matches {matches} oneOf branches")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}: missing required {name!r}")
        for name, item in value.items():
            if name in properties:
                found += errors(item, properties[name], root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}: unexpected property {name!r}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{path}: fewer than minItems")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{path}: more than maxItems")
        if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            found.append(f"{path}: items are not unique")
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", {})
            found += errors(item, sub, root, f"{path}[{i}]")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            found.append(f"{path}: shorter than minLength")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            found.append(f"{path}: longer than maxLength")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: does not match pattern")
        if schema.get("format") == "date" and not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            found.append(f"{path}: not a date")
    if TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{path}: below minimum")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{path}: above maximum")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            found.append(f"{path}: not above exclusiveMinimum")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            found.append(f"{path}: not below exclusiveMaximum")
        step = schema.get("multipleOf")
        if step and abs(value / step - round(value / step)) > 1e-9:
            found.append(f"{path}: not a multiple of {step}")
    return found
