"""The built-in tools: ``current_time``, ``calculator`` and ``convert_units``.

All three are pure computation: no network, no files, no ``eval``. The calculator parses its
expression with :mod:`ast` and evaluates an allow-list of nodes with limits on size, depth and
magnitude, so no input can run code or take noticeable time or memory.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import functools
import math
import operator
import re
import zoneinfo
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .registry import ToolError, tool

# -- shared --------------------------------------------------------------------------------------

SIGNIFICANT_DIGITS = 15
EXACT_INT_LIMIT = 2**53  # floats below this that are whole numbers are shown as ints


def tidy_number(value: int | float) -> int | float:
    """Ints unchanged; floats rounded to 15 significant digits, and shown as ints when whole."""
    if isinstance(value, int):
        return value
    rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if rounded.is_integer() and abs(rounded) < EXACT_INT_LIMIT:
        return int(rounded)
    return rounded


# -- current_time --------------------------------------------------------------------------------

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ZONE_HELP = (
    "Use an IANA time zone name written Area/Location, e.g. 'Europe/Paris', "
    "'America/New_York' or 'Asia/Tokyo', or 'UTC'; fixed offsets such as 'UTC+05:30' also work."
)
_OFFSET_RE = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def _now() -> dt.datetime:
    """The current instant (tests replace it)."""
    return dt.datetime.now(dt.UTC)


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _zone_suggestions(text: str) -> list[str]:
    names = _zone_names()
    wanted = text.lower()
    by_city = [name for low, name in names.items() if low.rsplit("/", 1)[-1] == wanted]
    close = [names[low] for low in difflib.get_close_matches(wanted, list(names), n=3)]
    return list(dict.fromkeys(sorted(by_city) + close))[:3]


def _format_offset(offset: dt.timedelta | None) -> str:
    minutes = int((offset or dt.timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _resolve_zone(text: str) -> tuple[str, dt.tzinfo]:
    key = re.sub(r"\s+", "_", text.strip()) or "UTC"
    if key.upper() in {"UTC", "Z", "GMT", "ETC/UTC"}:
        return "UTC", dt.UTC
    if match := _OFFSET_RE.match(text.strip()):
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes >= 60 or (hours == 14 and minutes):
            raise ToolError(f"UTC offset {text!r} is out of range (-14:00 to +14:00). {ZONE_HELP}")
        delta = dt.timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
        return f"UTC{_format_offset(delta)}", dt.timezone(delta)
    name = _zone_names().get(key.lower()) if len(key) <= 64 else None
    if name is None:
        shown = text if len(text) <= 64 else text[:64] + "…"
        message = f"Unknown time zone {shown!r}. {ZONE_HELP}"
        if suggestions := _zone_suggestions(key[:64]):
            message += f" Did you mean: {', '.join(suggestions)}?"
        raise ToolError(message)
    return name, zoneinfo.ZoneInfo(name)


@tool(
    "current_time",
    "Get the current date and time in a time zone. Call this whenever an answer depends on "
    "today's date, the current time, the day of the week or the time somewhere else, instead "
    "of guessing. Returns the ISO 8601 date-time, date, time, weekday, UTC offset, time zone "
    "abbreviation and whether daylight saving time is in effect.",
    {
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "IANA time zone name, e.g. 'Europe/Paris', 'America/New_York', "
                "'Asia/Kolkata' or 'UTC' (the default). A city alone is not a zone name: use "
                "the Area/Location form. A fixed offset like 'UTC-03:00' is also accepted.",
                "default": "UTC",
            }
        },
        "required": [],
        "additionalProperties": False,
    },
)
def current_time(timezone: str = "UTC") -> dict[str, Any]:
    name, zone = _resolve_zone(timezone)
    now = _now().astimezone(zone)
    return {
        "timezone": name,
        "datetime": now.isoformat(timespec="seconds"),
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M:%S"),
        "weekday": WEEKDAYS[now.weekday()],
        "utc_offset": _format_offset(now.utcoffset()),
        "abbreviation": now.tzname(),
        "is_dst": bool(now.dst()),
        "unix_time": int(now.timestamp()),
    }


# -- calculator ----------------------------------------------------------------------------------

MAX_EXPRESSION_CHARS = 500
MAX_NESTING = 100
MAX_EXPONENT = 10_000
MAX_MAGNITUDE = 1e300


def _round(x, ndigits=None):
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int):
        raise ToolError("round(x, digits): digits must be a whole number")
    return round(x, max(-400, min(400, ndigits)))


def _log(x, base=None):
    return math.log(x) if base is None else math.log(x, base)


def _extreme(pick: Callable) -> Callable:
    return lambda *args: args[0] if len(args) == 1 else pick(args)


# name → (function, minimum arguments, maximum arguments or None for any number)
FUNCTIONS: dict[str, tuple[Callable, int, int | None]] = {
    "sqrt": (math.sqrt, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "min": (_extreme(min), 1, None),
    "max": (_extreme(max), 1, None),
}
CONSTANTS = {"pi": math.pi, "e": math.e}
BINARY: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
ALLOWED = (
    "use numbers, + - * / // % ** (or ^), parentheses, the functions "
    + ", ".join(FUNCTIONS)
    + " and the constants pi and e"
)
NODE_NAMES = {
    ast.Attribute: "attribute access ('.')",
    ast.Subscript: "indexing ('[...]')",
    ast.Lambda: "lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "if/else",
    ast.NamedExpr: "assignment (':=')",
    ast.JoinedStr: "a string",
    ast.Tuple: "a tuple (a comma outside a function call)",
    ast.List: "a list",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Starred: "'*' unpacking",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_TRANSLATE = str.maketrans({"^": "**", "×": "*", "÷": "/", "−": "-"})


def _refuse(what: str) -> ToolError:
    return ToolError(f"{what} is not allowed in a calculator expression; {ALLOWED}.")


def _checked(value: Any) -> int | float:
    """Reject values the calculator does not produce: complex, NaN, infinite or huge."""
    if isinstance(value, complex):
        raise ToolError("the result is not a real number (e.g. a fractional power of a negative)")
    if isinstance(value, float) and math.isnan(value):
        raise ToolError("the result is not a number (NaN)")
    if abs(value) > MAX_MAGNITUDE:  # exact for ints too: Python compares int and float exactly
        raise ToolError("a value is too large (the limit is 1e300)")
    return value


def _show(value: int | float) -> str:
    if isinstance(value, int) and abs(value) < 10**15:
        return str(value)
    return f"{value:.6g}"


def _check_power(base: int | float, exponent: int | float) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(
            f"the exponent {_show(exponent)} is too large (the limit is {MAX_EXPONENT})"
        )
    if base == 0 and exponent < 0:
        raise ToolError("division by zero: 0 cannot be raised to a negative power")
    if abs(base) not in (0, 1) and exponent * math.log10(abs(base)) > 300:
        raise ToolError(f"{_show(base)} ** {_show(exponent)} is too large (the limit is 1e300)")


def _describe(values: list) -> str:
    return ", ".join(f"{tidy_number(v)}" for v in values)


def _evaluate(node: ast.AST, depth: int = 0) -> int | float:
    if depth > MAX_NESTING:
        raise ToolError(f"the expression is nested too deeply (the limit is {MAX_NESTING})")
    match node:
        case ast.Expression(body=body):
            return _evaluate(body, depth + 1)
        case ast.Constant(value=value):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _refuse(f"the value {value!r}")
            return _checked(value)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_evaluate(operand, depth + 1)
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return +_evaluate(operand, depth + 1)
        case ast.UnaryOp(op=op):
            raise _refuse(f"the operator {type(op).__name__}")
        case ast.BinOp(left=left, op=op, right=right):
            if type(op) not in BINARY:
                raise _refuse(f"the operator {type(op).__name__}")
            # A chain like 1 + 2 + 3 + ... nests to the left; it is a sequence, not nesting.
            a, b = _evaluate(left, depth), _evaluate(right, depth + 1)
            if isinstance(op, ast.Pow):
                _check_power(a, b)
            try:
                return _checked(BINARY[type(op)](a, b))
            except ZeroDivisionError:
                raise ToolError("division by zero") from None
            except OverflowError:
                raise ToolError("a value is too large (the limit is 1e300)") from None
        case ast.Call(func=ast.Name(id=name), args=args, keywords=keywords):
            if name not in FUNCTIONS:
                raise ToolError(f"unknown function {name!r}; {ALLOWED}.")
            if keywords or any(isinstance(a, ast.Starred) for a in args):
                raise ToolError(f"{name}() takes plain positional arguments only")
            func, low, high = FUNCTIONS[name]
            if len(args) < low or (high is not None and len(args) > high):
                count = (
                    str(low)
                    if low == high
                    else f"{low} or more"
                    if high is None
                    else f"{low}-{high}"
                )
                raise ToolError(f"{name}() takes {count} argument(s), got {len(args)}")
            values = [_evaluate(a, depth + 1) for a in args]
            try:
                return _checked(func(*values))
            except ValueError:
                raise ToolError(
                    f"{name}({_describe(values)}) is undefined (math domain error)"
                ) from None
            except ZeroDivisionError:
                raise ToolError(f"{name}({_describe(values)}): division by zero") from None
            except OverflowError:
                raise ToolError(f"{name}({_describe(values)}) is too large") from None
        case ast.Call(func=func):
            raise _refuse(NODE_NAMES.get(type(func), "calling anything but a named function"))
        case ast.Name(id=name):
            if name in CONSTANTS:
                return CONSTANTS[name]
            if name in FUNCTIONS:
                raise ToolError(f"{name} is a function: call it as {name}(...)")
            raise ToolError(f"unknown name {name!r}; {ALLOWED}.")
        case _:
            raise _refuse(NODE_NAMES.get(type(node), type(node).__name__))


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression (see the calculator tool); raises ToolError."""
    text = expression.strip()
    if not text:
        raise ToolError("the expression is empty")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ToolError(
            f"the expression is too long ({len(text)} characters; "
            f"the limit is {MAX_EXPRESSION_CHARS})"
        )
    try:
        tree = ast.parse(text.translate(_TRANSLATE), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"could not parse the expression: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ToolError("could not parse the expression") from None
    try:
        return tidy_number(_evaluate(tree))
    except RecursionError:
        raise ToolError("the expression is nested too deeply") from None


@tool(
    "calculator",
    "Evaluate an arithmetic expression exactly and return its value. Use it for any arithmetic "
    "instead of calculating in your head, e.g. '(17.5 * 3 + 2) / 4', '2 ** 64', "
    "'sqrt(2) * sin(pi / 4)', 'log(1024, 2)'. Supports numbers, + - * / // (floor division) "
    "% (remainder) ** (power; ^ is read as power too), unary minus, parentheses, the functions "
    "sqrt, sin, cos, tan (radians), log (natural, or log(x, base)), log10, exp, abs, "
    "round(x[, digits]), floor, ceil, min, max, and the constants pi and e. No variables, "
    "units, percentages or other functions. At most 500 characters; values above 1e300 and "
    "exponents above 10000 are refused. Whole results are integers; others are given to 15 "
    "significant digits.",
    {
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "description": "The arithmetic expression, in Python-like syntax, e.g. "
                "'(3 + 4) * 2 ** 10 / 7'.",
            }
        },
        "required": ["expression"],
        "additionalProperties": False,
    },
)
def calculator(expression: str) -> dict[str, Any]:
    return {"expression": expression.strip(), "result": evaluate(expression)}


# -- convert_units -------------------------------------------------------------------------------

F = Fraction
# dimension → canonical unit → size in the dimension's base unit (m, kg, l, m/s, s, byte).
UNITS: dict[str, dict[str, Fraction]] = {
    "length": {
        "mm": F("0.001"),
        "cm": F("0.01"),
        "m": F(1),
        "km": F(1000),
        "in": F("0.0254"),
        "ft": F("0.3048"),
        "yd": F("0.9144"),
        "mi": F("1609.344"),
        "nmi": F(1852),
    },
    "mass": {
        "mg": F("0.000001"),
        "g": F("0.001"),
        "kg": F(1),
        "t": F(1000),
        "oz": F("0.028349523125"),
        "lb": F("0.45359237"),
        "st": F("6.35029318"),
    },
    "volume": {  # US customary unless imp_ (imperial)
        "ml": F("0.001"),
        "cl": F("0.01"),
        "dl": F("0.1"),
        "l": F(1),
        "m3": F(1000),
        "tsp": F("0.00492892159375"),
        "tbsp": F("0.01478676478125"),
        "fl_oz": F("0.0295735295625"),
        "cup": F("0.2365882365"),
        "pt": F("0.473176473"),
        "qt": F("0.946352946"),
        "gal": F("3.785411784"),
        "imp_fl_oz": F("0.0284130625"),
        "imp_pt": F("0.56826125"),
        "imp_qt": F("1.1365225"),
        "imp_gal": F("4.54609"),
    },
    "temperature": {"C": F(1), "F": F(5, 9), "K": F(1)},  # affine: see _to_kelvin
    "speed": {
        "m/s": F(1),
        "km/h": F(1000, 3600),
        "mph": F("0.44704"),
        "kn": F(1852, 3600),
    },
    "time": {
        "ms": F("0.001"),
        "s": F(1),
        "min": F(60),
        "h": F(3600),
        "day": F(86400),
        "week": F(604800),
    },
    "data": {
        "B": F(1),
        "KB": F(10**3),
        "MB": F(10**6),
        "GB": F(10**9),
        "TB": F(10**12),
        "KiB": F(2**10),
        "MiB": F(2**20),
        "GiB": F(2**30),
        "TiB": F(2**40),
        "bit": F(1, 8),
        "kbit": F(10**3, 8),
        "Mbit": F(10**6, 8),
        "Gbit": F(10**9, 8),
    },
}
# Other spellings (matched case-insensitively, ignoring '°', '_', '-' and extra spaces, and a
# leading "degree(s)"; a plural 's' is also dropped).
ALIASES: dict[str, list[str]] = {
    "mm": ["millimeter", "millimetre"],
    "cm": ["centimeter", "centimetre"],
    "m": ["meter", "metre"],
    "km": ["kilometer", "kilometre", "kms"],
    "in": ["inch", "inches", '"'],
    "ft": ["foot", "feet", "'"],
    "yd": ["yard", "yds"],
    "mi": ["mile"],
    "nmi": ["nautical mile", "nautical miles"],
    "mg": ["milligram", "milligramme"],
    "g": ["gram", "gramme"],
    "kg": ["kilogram", "kilogramme", "kilo", "kgs"],
    "t": ["tonne", "metric ton", "metric tonne"],
    "oz": ["ounce"],
    "lb": ["lbs", "pound"],
    "st": ["stone"],
    "ml": ["milliliter", "millilitre", "cc", "cm3", "cubic centimeter", "cubic centimetre"],
    "cl": ["centiliter", "centilitre"],
    "dl": ["deciliter", "decilitre"],
    "l": ["liter", "litre", "ltr"],
    "m3": ["cubic meter", "cubic metre", "m^3"],
    "tsp": ["teaspoon"],
    "tbsp": ["tablespoon", "tbs"],
    "fl_oz": ["fluid ounce", "floz", "us fl oz", "us fluid ounce"],
    "cup": ["us cup"],
    "pt": ["pint", "us pint"],
    "qt": ["quart", "us quart"],
    "gal": ["gallon", "us gallon", "gals"],
    "imp_fl_oz": ["imperial fluid ounce", "uk fl oz", "uk fluid ounce", "imperial fl oz"],
    "imp_pt": ["imperial pint", "uk pint"],
    "imp_qt": ["imperial quart", "uk quart"],
    "imp_gal": ["imperial gallon", "uk gallon"],
    "C": ["celsius", "centigrade", "degc", "deg c"],
    "F": ["fahrenheit", "degf", "deg f"],
    "K": ["kelvin", "degk"],
    "m/s": ["meters per second", "metres per second", "meter per second", "mps", "m/sec"],
    "km/h": [
        "kph",
        "kmh",
        "kmph",
        "km/hr",
        "kilometers per hour",
        "kilometres per hour",
        "kilometer per hour",
        "kilometre per hour",
    ],
    "mph": ["miles per hour", "mile per hour", "mi/h"],
    "kn": ["knot", "kt", "kts"],
    "ms": ["millisecond", "msec"],
    "s": ["sec", "second", "secs"],
    "min": ["minute", "mins"],
    "h": ["hr", "hour", "hrs"],
    "day": ["d", "days"],
    "week": ["wk", "weeks", "wks", "w"],
    "B": ["byte"],
    "KB": ["kilobyte"],
    "MB": ["megabyte"],
    "GB": ["gigabyte"],
    "TB": ["terabyte"],
    "KiB": ["kibibyte"],
    "MiB": ["mebibyte"],
    "GiB": ["gibibyte"],
    "TiB": ["tebibyte"],
    "bit": ["bits"],
    "kbit": ["kilobit", "kbits"],
    "Mbit": ["megabit", "mbits"],
    "Gbit": ["gigabit", "gbits"],
}


def _normalise(text: str) -> str:
    text = text.strip().replace("°", "").replace("º", "").replace("³", "3").lower()
    text = re.sub(r"[\s_\-]+", " ", text).strip()
    return re.sub(r"^(degrees?|deg) (?=\S)", "", text)


def _build_lookup() -> dict[str, tuple[str, str]]:
    lookup: dict[str, tuple[str, str]] = {}
    for dimension, units in UNITS.items():
        for unit in units:
            for spelling in [unit, *ALIASES.get(unit, [])]:
                key = _normalise(spelling)
                if lookup.get(key, (dimension, unit)) != (dimension, unit):
                    raise AssertionError(f"unit spelling {spelling!r} is ambiguous")
                lookup[key] = (dimension, unit)
    return lookup


UNIT_LOOKUP = _build_lookup()


def _unit_listing() -> str:
    return "; ".join(f"{dim}: {', '.join(units)}" for dim, units in UNITS.items())


def find_unit(text: str) -> tuple[str, str]:
    """(dimension, canonical unit) for a unit as people write it; raises ToolError."""
    key = _normalise(text)
    for candidate in (key, key[:-1] if key.endswith("s") else None):
        if candidate and candidate in UNIT_LOOKUP:
            return UNIT_LOOKUP[candidate]
    shown = text if len(text) <= 40 else text[:40] + "…"
    raise ToolError(f"Unknown unit {shown!r}. Known units: {_unit_listing()}.")


def _to_kelvin(value: Fraction, unit: str) -> Fraction:
    if unit == "C":
        return value + F("273.15")
    if unit == "F":
        return (value - 32) * F(5, 9) + F("273.15")
    return value


def _from_kelvin(kelvin: Fraction, unit: str) -> Fraction:
    if unit == "C":
        return kelvin - F("273.15")
    if unit == "F":
        return (kelvin - F("273.15")) * F(9, 5) + 32
    return kelvin


@tool(
    "convert_units",
    "Convert a quantity from one unit to another of the same kind, exactly. Use it whenever a "
    "user asks for a conversion or mixes units. Units (common spellings like 'kilometers', "
    "'Km', '°C' or 'pounds' are accepted too): "
    "length mm, cm, m, km, in, ft, yd, mi, nmi (nautical mile); "
    "mass mg, g, kg, t (metric tonne), oz, lb, st (stone); "
    "volume ml, cl, dl, l, m3, and US tsp, tbsp, fl_oz, cup, pt, qt, gal (imperial: "
    "imp_fl_oz, imp_pt, imp_qt, imp_gal); "
    "temperature C, F, K (absolute temperatures, not differences); "
    "speed m/s, km/h, mph, kn (knots); time ms, s, min, h, day, week; "
    "data B, KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024), bit, kbit, "
    "Mbit, Gbit. Both units must measure the same kind of quantity. The result is given to 15 "
    "significant digits.",
    {
        "type": "object",
        "properties": {
            "value": {"type": "number", "description": "The amount to convert, e.g. 5.5."},
            "from_unit": {
                "type": "string",
                "description": "The unit the value is in, e.g. 'km', 'lb', 'F', 'GiB'.",
            },
            "to_unit": {
                "type": "string",
                "description": "The unit to convert to, of the same kind, e.g. 'mi', 'kg', 'C'.",
            },
        },
        "required": ["value", "from_unit", "to_unit"],
        "additionalProperties": False,
    },
)
def convert_units(value: int | float, from_unit: str, to_unit: str) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError("value must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("value must be a finite number")
    source_dimension, source = find_unit(from_unit)
    target_dimension, target = find_unit(to_unit)
    if source_dimension != target_dimension:
        raise ToolError(
            f"Cannot convert {source} ({source_dimension}) to {target} ({target_dimension}): "
            f"{source_dimension} and {target_dimension} are different kinds of quantity."
        )
    # Floats as written (0.1 is one tenth), so exact factors give exact answers.
    amount = F(repr(value)) if isinstance(value, float) else F(value)
    if source_dimension == "temperature":
        kelvin = _to_kelvin(amount, source)
        if kelvin < 0:
            raise ToolError(f"{tidy_number(value)} {source} is below absolute zero")
        converted = _from_kelvin(kelvin, target)
    else:
        units = UNITS[source_dimension]
        converted = amount * units[source] / units[target]
    try:
        result = tidy_number(float(converted))
    except OverflowError:
        raise ToolError("the result is too large") from None
    return {
        "value": value,
        "from_unit": source,
        "to_unit": target,
        "dimension": source_dimension,
        "result": result,
        "text": f"{tidy_number(value)} {source} = {result} {target}",
    }
