"""Server-side function tools: the registry (declarations, calls, errors, timeouts, result
bounds), the built-in current_time, calculator and convert_units tools, and — through the turn
runner and the real emulator — that only tools switched on are sent and run."""

import datetime as dt
import importlib
import json
import threading

import pytest
from jsonschema import Draft202012Validator

from chatsite.chat import tools
from chatsite.chat.tools import (
    REGISTRY,
    ToolError,
    builtin,
    call,
    declarations,
    function_result_step,
    tool,
    unregister,
)
from chatsite.chat.tools.registry import MAX_RESULT_CHARS, MAX_STRING_CHARS

OBJECT = {"type": "object", "properties": {}, "additionalProperties": False}


@pytest.fixture
def register():
    """register(name, func, parameters=OBJECT): a throwaway tool, unregistered afterwards."""
    names = []

    def register_(name, func, parameters=OBJECT, description="A test tool."):
        tool(name, description, parameters)(func)
        names.append(name)
        return REGISTRY[name]

    yield register_
    for name in names:
        unregister(name)


async def ok(name, arguments):
    outcome = await call(name, arguments)
    assert outcome["is_error"] is False, outcome
    json.dumps(outcome)
    return outcome["result"]


async def error(name, arguments, **kwargs):
    outcome = await call(name, arguments, **kwargs)
    assert outcome["is_error"] is True, outcome
    assert set(outcome) == {"result", "is_error"}
    assert set(outcome["result"]) == {"error"}
    message = outcome["result"]["error"]
    assert isinstance(message, str) and message
    return message


# -- declarations --------------------------------------------------------------------------------


def test_builtin_tools_are_the_ones_the_migration_switches_on():
    migration = importlib.import_module("chatsite.chat.migrations.0005_builtin_tools_on")
    assert set(migration.BUILTIN) == set(tools.BUILTIN_TOOLS) <= set(REGISTRY)


@pytest.mark.parametrize("name", tools.BUILTIN_TOOLS)
def test_declarations_are_valid_function_tools(name):
    declaration = REGISTRY[name].declaration()
    assert set(declaration) == {"type", "name", "description", "parameters"}
    assert declaration["type"] == "function"
    assert declaration["name"] == name
    assert isinstance(declaration["description"], str) and len(declaration["description"]) > 40
    parameters = declaration["parameters"]
    Draft202012Validator.check_schema(parameters)
    assert parameters["type"] == "object"
    assert isinstance(parameters["properties"], dict)
    assert set(parameters.get("required", [])) <= set(parameters["properties"])
    for prop in parameters["properties"].values():
        assert prop.get("type") and prop.get("description")
    json.dumps(declaration)


def test_declaration_is_a_copy():
    declaration = REGISTRY["calculator"].declaration()
    declaration["parameters"]["properties"].clear()
    assert REGISTRY["calculator"].declaration()["parameters"]["properties"]


def test_declarations_for_enabled_names_skip_unknown_and_sort():
    got = declarations(["current_time", "calculator", "gone_tool", "calculator"])
    assert [d["name"] for d in got] == ["calculator", "current_time"]
    assert {d["name"] for d in declarations()} == set(REGISTRY)
    assert declarations([]) == []


def test_registering_checks_the_tool(register):
    register("t_dup", lambda: {})
    with pytest.raises(ValueError, match="already registered"):
        tool("t_dup", "Again.", OBJECT)(lambda: {})
    with pytest.raises(ValueError, match="type 'object'"):
        tool("t_array", "Bad.", {"type": "array"})
    with pytest.raises(ValueError, match="invalid parameters schema"):
        tool("t_bad", "Bad.", {"type": "object", "properties": {"x": {"type": "nonsense"}}})
    with pytest.raises(ValueError, match="description"):
        tool("t_nodesc", "", OBJECT)

    async def coroutine():
        return {}

    with pytest.raises(TypeError, match="sync"):
        tool("t_async", "Async.", OBJECT)(coroutine)
    assert not {"t_array", "t_bad", "t_nodesc", "t_async"} & set(REGISTRY)


# -- call(): errors never raise ------------------------------------------------------------------


async def test_unknown_tool():
    message = await error("no_such_tool", {})
    assert "Unknown tool 'no_such_tool'" in message and "calculator" in message
    assert "Unknown tool" in await error(None, {})


async def test_tool_not_switched_on_is_refused():
    message = await error("calculator", {"expression": "1+1"}, allowed={"current_time"})
    assert "The tool 'calculator' is not switched on" in message
    assert "current_time" in message and "convert_units" not in message
    assert (await call("calculator", {"expression": "1+1"}, allowed={"calculator"}))["result"] == {
        "expression": "1+1",
        "result": 2,
    }


@pytest.mark.parametrize(
    "name, arguments, expected",
    [
        ("calculator", {}, "'expression' is a required property"),
        ("calculator", {"expression": 42}, "expression: 42 is not of type 'string'"),
        ("calculator", {"expression": "1", "extra": 1}, "'extra' was unexpected"),
        ("convert_units", {"value": "5", "from_unit": "km", "to_unit": "m"}, "value"),
        ("convert_units", {"value": True, "from_unit": "km", "to_unit": "m"}, "value"),
        ("convert_units", {"value": 1, "from_unit": "km"}, "'to_unit' is a required property"),
        ("current_time", {"timezone": ["UTC"]}, "timezone"),
        ("calculator", ["1+1"], "expected a JSON object, got list"),
        ("calculator", "1+1", "expected a JSON object, got str"),
    ],
)
async def test_invalid_arguments_per_schema(name, arguments, expected):
    message = await error(name, arguments)
    assert message.startswith(f"Invalid arguments for {name}:")
    assert expected in message


async def test_missing_arguments_mean_an_empty_object():
    assert (await ok("current_time", None))["timezone"] == "UTC"


async def test_exception_becomes_an_error_result(register):
    def boom():
        raise RuntimeError("the disk is on fire")

    def refuses():
        raise ToolError("Nothing to do here.")

    register("t_boom", boom)
    register("t_refuses", refuses)
    message = await error("t_boom", {})
    assert "t_boom failed" in message and "RuntimeError" in message and "on fire" in message
    assert await error("t_refuses", {}) == "Nothing to do here."


async def test_system_exit_in_a_tool_is_an_error(register):
    def leaves():
        raise SystemExit(3)

    register("t_exit", leaves)
    assert "SystemExit" in await error("t_exit", {})


async def test_arguments_the_function_does_not_take(register):
    register("t_no_args", lambda: {"ok": True}, {"type": "object"})  # any properties allowed
    assert "t_no_args failed" in await error("t_no_args", {"surprise": 1})


@pytest.fixture
def slow_tool(register):
    release = threading.Event()

    def slow():
        release.wait(5)
        return {"done": True}

    register("t_slow", slow)
    yield "t_slow", release
    release.set()


async def test_timeout(slow_tool):
    name, release = slow_tool
    try:
        outcome = await call(name, {}, timeout=0.05)
    finally:
        release.set()  # let the abandoned worker thread end before the event loop closes
    assert outcome == {
        "result": {"error": "t_slow timed out after 0.05 seconds."},
        "is_error": True,
    }


async def test_runs_in_a_worker_thread(register):
    register("t_thread", lambda: {"thread": threading.current_thread().name})
    result = await ok("t_thread", {})
    assert result["thread"] != threading.main_thread().name


# -- call(): results are JSON and bounded --------------------------------------------------------


async def test_long_strings_are_truncated(register):
    register("t_long", lambda: {"text": "x" * 50_000})
    text = (await ok("t_long", {}))["text"]
    assert text.startswith("x" * MAX_STRING_CHARS)
    assert text.endswith(f"[truncated {50_000 - MAX_STRING_CHARS} characters]")


async def test_huge_results_are_cut_to_the_limit(register):
    register("t_huge", lambda: {"rows": [["y" * 3000] * 150 for _ in range(150)]})
    result = await ok("t_huge", {})
    assert result["truncated"] is True
    assert len(json.dumps(result, ensure_ascii=False)) <= MAX_RESULT_CHARS + 100


async def test_non_json_values_are_made_json(register):
    class Thing:
        def __repr__(self):
            return "<Thing>"

    when = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)
    register(
        "t_odd",
        lambda: {"when": when, "nan": float("nan"), "set": {1}, "thing": Thing(), 3: (1, 2)},
    )
    result = await ok("t_odd", {})
    assert result == {
        "when": "2024-07-01T12:00:00+00:00",
        "nan": "nan",
        "set": [1],
        "thing": "<Thing>",
        "3": [1, 2],
    }


@pytest.mark.parametrize(
    "value, expected",
    [
        ("plain text", "plain text"),
        (42, {"value": 42}),
        ([1, 2], {"value": [1, 2]}),
        (None, {"value": None}),
        ([{"type": "text", "text": "hi"}], [{"type": "text", "text": "hi"}]),  # Content list
    ],
)
async def test_results_are_an_object_a_string_or_content(register, value, expected):
    register("t_shape", lambda: value)
    assert await ok("t_shape", {}) == expected


# -- function_result_step ------------------------------------------------------------------------


async def test_function_result_step():
    call_step = {"type": "function_call", "id": "call_1", "name": "calculator", "arguments": {}}
    call_step["arguments"] = {"expression": "6*7"}
    outcome = await call(call_step["name"], call_step["arguments"])
    assert function_result_step(call_step, outcome) == {
        "type": "function_result",
        "call_id": "call_1",
        "name": "calculator",
        "result": {"expression": "6*7", "result": 42},
    }
    failed = await call("calculator", {"expression": "1/0"})
    assert function_result_step(call_step, failed) == {
        "type": "function_result",
        "call_id": "call_1",
        "name": "calculator",
        "result": {"error": "division by zero"},
        "is_error": True,
    }


# -- only tools switched on are sent and run (through the runner and the real emulator) ---------


@pytest.fixture
def tally(register, transactional_db):
    """A throwaway tool that records its calls; its FunctionTool row starts switched off."""
    from chatsite.chat.models import FunctionTool

    calls = []
    register("tally", lambda: calls.append("ran") or {"count": len(calls)})
    FunctionTool.objects.create(name="tally", enabled=False)
    return calls


async def reply_to(user, open_tab, text, *, functions, until=None):
    """Send `text` in a new conversation that chose `functions`; the tab and the final turn.
    `until(tab)`, when given, runs once the reply has started."""
    from chatsite.chat.models import Conversation, Turn

    from .helpers import is_status, wait_for_turn

    convo = await Conversation.objects.acreate(
        owner=user, title="t", model="gemini-3.5-flash", settings={"functions": functions}
    )
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": text})
    if until is not None:
        await until(tab)
    await tab.receive_until(lambda f: is_status(f, "completed"), timeout=30)
    turn = await Turn.objects.filter(conversation=convo).alatest("pk")
    return tab, await wait_for_turn(turn.pk)


def sent_function_names(emulator, turn) -> set[str]:
    names = set()
    for interaction_id in [*turn.continuation_ids, turn.interaction_id]:
        body = emulator.store.get(interaction_id).request
        names |= {t.get("name") for t in body.get("tools") or [] if t.get("type") == "function"}
    return names


@pytest.mark.django_db(transaction=True)
async def test_a_switched_off_tool_is_neither_sent_nor_run(tally, user, open_tab, emulator):
    # The conversation chose "tally" while it was on; an admin has switched it off since.
    tab, turn = await reply_to(user, open_tab, "count [emulator:call=tally]", functions=["tally"])
    assert "tally" not in sent_function_names(emulator, turn)
    assert "tally" not in json.dumps(turn.request.get("tools", []))
    assert tally == [], "the switched-off tool ran"
    result = next(s for s in turn.steps if s["type"] == "function_result")
    assert result["name"] == "tally" and result.get("is_error") is True
    assert "not switched on" in result["result"]["error"]
    assert turn.status == "completed"


@pytest.mark.django_db(transaction=True)
async def test_a_tool_switched_off_while_the_reply_runs_is_not_run(tally, user, open_tab, emulator):
    from chatsite.chat.models import FunctionTool

    await FunctionTool.objects.filter(name="tally").aupdate(enabled=True)

    async def switch_off_once_called(tab):
        # The call's arguments stream at 1.5 s a fragment: the admin is quicker than that.
        await tab.receive_until(lambda f: 'data-step-type="function_call"' in f, timeout=30)
        await FunctionTool.objects.filter(name="tally").aupdate(enabled=False)

    text = "count [emulator:call=tally] [emulator:pace=1500] [emulator:delta_words=1000]"
    tab, turn = await reply_to(
        user, open_tab, text, functions=["tally"], until=switch_off_once_called
    )
    assert "tally" in sent_function_names(emulator, turn)  # it was on when the reply began
    assert tally == [], "the tool ran after it was switched off"
    result = next(s for s in turn.steps if s["type"] == "function_result")
    assert result.get("is_error") is True and "not switched on" in result["result"]["error"]


@pytest.mark.django_db(transaction=True)
async def test_a_tool_switched_on_is_sent_and_run(tally, user, open_tab, emulator):
    from chatsite.chat.models import FunctionTool

    await FunctionTool.objects.filter(name="tally").aupdate(enabled=True)
    tab, turn = await reply_to(user, open_tab, "count [emulator:call=tally]", functions=["tally"])
    assert "tally" in sent_function_names(emulator, turn)
    assert tally == ["ran"]
    result = next(s for s in turn.steps if s["type"] == "function_result")
    assert result["result"] == {"count": 1} and not result.get("is_error")


# -- current_time --------------------------------------------------------------------------------


@pytest.fixture
def frozen_now(monkeypatch):
    instant = dt.datetime(2024, 7, 1, 12, 30, 5, tzinfo=dt.UTC)  # a Monday, summer
    monkeypatch.setattr(builtin, "_now", lambda: instant)
    return instant


async def test_current_time_defaults_to_utc(frozen_now):
    assert await ok("current_time", {}) == {
        "timezone": "UTC",
        "datetime": "2024-07-01T12:30:05+00:00",
        "date": "2024-07-01",
        "time": "12:30:05",
        "weekday": "Monday",
        "utc_offset": "+00:00",
        "abbreviation": "UTC",
        "is_dst": False,
        "unix_time": int(frozen_now.timestamp()),
    }


@pytest.mark.parametrize(
    "zone, name, iso, offset, dst",
    [
        ("Europe/Paris", "Europe/Paris", "2024-07-01T14:30:05+02:00", "+02:00", True),
        ("europe/paris", "Europe/Paris", "2024-07-01T14:30:05+02:00", "+02:00", True),
        ("America/New York", "America/New_York", "2024-07-01T08:30:05-04:00", "-04:00", True),
        ("Asia/Kolkata", "Asia/Kolkata", "2024-07-01T18:00:05+05:30", "+05:30", False),
        ("Pacific/Kiritimati", "Pacific/Kiritimati", "2024-07-02T02:30:05+14:00", "+14:00", False),
        ("UTC-03:00", "UTC-03:00", "2024-07-01T09:30:05-03:00", "-03:00", False),
        ("GMT+5:45", "UTC+05:45", "2024-07-01T18:15:05+05:45", "+05:45", False),
    ],
)
async def test_current_time_in_a_zone(frozen_now, zone, name, iso, offset, dst):
    result = await ok("current_time", {"timezone": zone})
    assert (result["timezone"], result["datetime"], result["utc_offset"]) == (name, iso, offset)
    assert result["is_dst"] is dst
    assert result["unix_time"] == int(frozen_now.timestamp())


async def test_current_time_weekday_crosses_the_date_line(frozen_now):
    result = await ok("current_time", {"timezone": "Pacific/Kiritimati"})
    assert (result["date"], result["weekday"]) == ("2024-07-02", "Tuesday")


async def test_current_time_really_is_now():
    result = await ok("current_time", {"timezone": "Asia/Tokyo"})
    now = dt.datetime.now(dt.UTC).timestamp()
    assert abs(result["unix_time"] - now) < 5
    assert result["abbreviation"] == "JST"


@pytest.mark.parametrize("zone", ["Paris", "Mars/Olympus_Mons", "../../etc/passwd", "x" * 500])
async def test_current_time_unknown_zone(zone):
    message = await error("current_time", {"timezone": zone})
    assert message.startswith("Unknown time zone")
    assert "'Europe/Paris'" in message and "Area/Location" in message


async def test_current_time_suggests_the_zone_of_a_city():
    assert "Did you mean: Europe/Paris" in await error("current_time", {"timezone": "Paris"})


async def test_current_time_offset_out_of_range():
    assert "out of range" in await error("current_time", {"timezone": "UTC+15"})


# -- calculator ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("1 + 2", 3),
        ("(3 + 4) * 2 ** 10 / 7", 1024),
        ("0.1 + 0.2", 0.3),
        ("1 / 3", 0.333333333333333),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 64", 18446744073709551616),
        ("2 ^ 10", 1024),
        ("6 × 7 ÷ 2 − 1", 20),
        ("-(+3)", -3),
        ("2 ** -1", 0.5),
        ("sqrt(16)", 4),
        ("sqrt(2)", 1.4142135623731),
        ("sin(pi / 2) + cos(0)", 2),
        ("tan(0)", 0),
        ("log(e)", 1),
        ("log(1024, 2)", 10),
        ("log10(1000)", 3),
        ("exp(0)", 1),
        ("abs(-3.5)", 3.5),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("floor(-2.5) + ceil(2.1)", 0),
        ("min(3, 1, 2) + max(4, 9)", 10),
        ("max(4)", 4),
        ("pi", 3.14159265358979),
        ("10 ** 300", 10**300),
        ("1_000_000 * 3", 3_000_000),
    ],
)
async def test_calculator(expression, expected):
    result = await ok("calculator", {"expression": expression})
    assert result == {"expression": expression, "result": expected}
    assert type(result["result"]) is type(expected)


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("__import__('os').system('true')", "attribute access"),
        ("(1).__class__", "attribute access"),
        ("math.pi", "attribute access"),
        ("x + 1", "unknown name 'x'"),
        ("open", "unknown name 'open'"),
        ("sin", "sin is a function"),
        ("lambda: 1", "lambda is not allowed"),
        ("(lambda x: x)(1)", "lambda is not allowed"),
        ("(1)(2)", "calling anything but a named function"),
        ("[x for x in range(3)]", "comprehension is not allowed"),
        ("{x: 1 for x in ()}", "comprehension is not allowed"),
        ("sum(x for x in (1, 2))", "unknown function 'sum'"),
        ("max(x for x in (1, 2))", "generator expression is not allowed"),
        ("[1, 2][0]", "indexing"),
        ("'a' * 3", "the value 'a' is not allowed"),
        ("True + 1", "the value True is not allowed"),
        ("1j * 2", "the value 1j is not allowed"),
        ("1 < 2", "comparison is not allowed"),
        ("1 and 2", "and/or is not allowed"),
        ("1 if 1 else 2", "if/else is not allowed"),
        ("(y := 2)", "assignment"),
        ("1, 2", "tuple"),
        ("~1", "the operator Invert is not allowed"),
        ("1 << 3", "the operator LShift is not allowed"),
        ("max(*[1, 2])", "plain positional arguments"),
        ("round(x=1)", "plain positional arguments"),
        ("import os", "could not parse the expression"),
        ("x = 1", "could not parse the expression"),
        ("1 +", "could not parse the expression"),
        ("", "the expression is empty"),
        ("sqrt()", "sqrt() takes 1 argument(s), got 0"),
        ("sqrt(1, 2)", "sqrt() takes 1 argument(s), got 2"),
        ("round(1.5, 0.5)", "digits must be a whole number"),
    ],
)
async def test_calculator_refuses_anything_but_arithmetic(expression, expected):
    message = await error("calculator", {"expression": expression})
    assert expected in message


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("9**9**9", "exponent 387420489 is too large"),
        ("2 ** 100000", "exponent 100000 is too large"),
        ("10 ** 301", "10 ** 301 is too large"),
        ("2 ** 5000", "2 ** 5000 is too large"),
        ("1.5 ** 2000", "too large"),
        ("0.5 ** -2000", "too large"),
        ("(10 ** 300) * 10", "too large (the limit is 1e300)"),
        ("1e301", "too large"),
        ("1e999", "too large"),
        ("9" * 400, "too large"),
        ("exp(1000)", "exp(1000) is too large"),
        ("(-8) ** (1 / 3)", "not a real number"),
    ],
)
async def test_calculator_refuses_huge_values(expression, expected):
    assert expected in await error("calculator", {"expression": expression})


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("1.5 / (2 - 2)", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("sqrt(-1)", "sqrt(-1) is undefined (math domain error)"),
        ("log(0)", "log(0) is undefined"),
        ("log(8, 1)", "log(8, 1): division by zero"),
    ],
)
async def test_calculator_clear_math_errors(expression, expected):
    assert (await error("calculator", {"expression": expression})).startswith(expected)


async def test_calculator_values_up_to_1e300():
    result = (await ok("calculator", {"expression": "floor(1e300)"}))["result"]
    assert type(result) is int and result == int(1e300)
    assert (await ok("calculator", {"expression": "-10 ** 300"}))["result"] == -(10**300)


async def test_calculator_limits_length_and_nesting():
    assert "too long (501 characters; the limit is 500)" in await error(
        "calculator", {"expression": "1+" * 250 + "1"}
    )
    assert (await ok("calculator", {"expression": "1+" * 249 + "1"}))["result"] == 250
    assert (await ok("calculator", {"expression": "(" * 99 + "1" + "+1)" * 99}))["result"] == 100
    assert "nested too deeply" in await error("calculator", {"expression": "-" * 200 + "1"})
    assert (await ok("calculator", {"expression": "(" * 100 + "1" + ")" * 100}))["result"] == 1
    message = await error("calculator", {"expression": "(" * 240 + "1" + ")" * 240})
    assert "could not parse the expression: too many nested parentheses" in message
    assert "nested too deeply" in await error(
        "calculator", {"expression": "1+(" * 120 + "1" + ")" * 120}
    )


# -- convert_units -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, source, target, expected",
    [
        (5, "km", "mi", 3.10685596118667),
        (1, "mi", "km", 1.609344),
        (12, "in", "cm", 30.48),
        (1, "ft", "in", 12),
        (3, "yd", "ft", 9),
        (1, "nmi", "m", 1852),
        (1500, "mm", "m", 1.5),
        (1, "kg", "lb", 2.20462262184878),
        (1, "st", "lb", 14),
        (16, "oz", "lb", 1),
        (2.5, "t", "kg", 2500),
        (500, "mg", "g", 0.5),
        (1, "gal", "l", 3.785411784),
        (1, "cup", "fl_oz", 8),
        (3, "tsp", "tbsp", 1),
        (2, "pt", "qt", 1),
        (1, "l", "ml", 1000),
        (1, "imp_gal", "l", 4.54609),
        (100, "C", "F", 212),
        (32, "F", "C", 0),
        (0, "K", "C", -273.15),
        (-40, "C", "F", -40),
        (98.6, "F", "C", 37),
        (36, "km/h", "m/s", 10),
        (60, "mph", "km/h", 96.56064),
        (1, "kn", "km/h", 1.852),
        (90, "min", "h", 1.5),
        (2, "week", "day", 14),
        (1, "day", "s", 86400),
        (1, "GiB", "MB", 1073.741824),
        (1, "TB", "GB", 1000),
        (1024, "KiB", "MiB", 1),
        (100, "Mbit", "MB", 12.5),
        (0.1, "km", "m", 100),
    ],
)
async def test_convert_units(value, source, target, expected):
    result = await ok("convert_units", {"value": value, "from_unit": source, "to_unit": target})
    assert result["result"] == pytest.approx(expected, rel=1e-12)
    assert (result["from_unit"], result["to_unit"]) == (source, target)
    assert result["text"] == f"{value} {source} = {result['result']} {target}"


async def test_convert_units_exact_results_are_ints():
    result = await ok("convert_units", {"value": 1, "from_unit": "km", "to_unit": "m"})
    assert result == {
        "value": 1,
        "from_unit": "km",
        "to_unit": "m",
        "dimension": "length",
        "result": 1000,
        "text": "1 km = 1000 m",
    }
    assert type(result["result"]) is int


@pytest.mark.parametrize(
    "spelling, canonical",
    [
        ("kilometers", "km"),
        ("Km", "km"),
        ("KILOMETRES", "km"),
        ("°C", "C"),
        ("celsius", "C"),
        ("Degrees Celsius", "C"),
        ("degrees fahrenheit", "F"),
        ("°F", "F"),
        ("kelvin", "K"),
        ("feet", "ft"),
        ("inches", "in"),
        ("miles", "mi"),
        ("nautical miles", "nmi"),
        ("pounds", "lb"),
        ("lbs", "lb"),
        ("kilos", "kg"),
        ("Grams", "g"),
        ("stone", "st"),
        ("litres", "l"),
        ("Liter", "l"),
        ("mL", "ml"),
        ("fl oz", "fl_oz"),
        ("fluid ounces", "fl_oz"),
        ("tablespoons", "tbsp"),
        ("US gallons", "gal"),
        ("imperial pints", "imp_pt"),
        ("miles per hour", "mph"),
        ("kph", "km/h"),
        ("KM/H", "km/h"),
        ("knots", "kn"),
        ("M/S", "m/s"),
        ("hours", "h"),
        ("minutes", "min"),
        ("seconds", "s"),
        ("days", "day"),
        ("weeks", "week"),
        ("gigabytes", "GB"),
        ("gb", "GB"),
        ("GiB", "GiB"),
        ("gib", "GiB"),
        ("bytes", "B"),
        ("megabits", "Mbit"),
    ],
)
def test_unit_spellings(spelling, canonical):
    assert builtin.find_unit(spelling)[1] == canonical


async def test_convert_units_mismatched_dimensions():
    message = await error("convert_units", {"value": 1, "from_unit": "kg", "to_unit": "km"})
    assert message == (
        "Cannot convert kg (mass) to km (length): mass and length are different kinds of quantity."
    )
    message = await error("convert_units", {"value": 1, "from_unit": "°C", "to_unit": "hours"})
    assert "temperature" in message and "time" in message


async def test_convert_units_unknown_unit():
    message = await error("convert_units", {"value": 1, "from_unit": "furlong", "to_unit": "m"})
    assert message.startswith("Unknown unit 'furlong'. Known units: length: mm, cm, m, km")
    assert "temperature: C, F, K" in message


async def test_convert_units_below_absolute_zero():
    message = await error("convert_units", {"value": -500, "from_unit": "C", "to_unit": "K"})
    assert message == "-500 C is below absolute zero"


async def test_convert_units_too_large():
    arguments = {"value": 1e308, "from_unit": "TB", "to_unit": "bit"}
    assert "too large" in await error("convert_units", arguments)
