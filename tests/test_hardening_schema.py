"""A person's structured-output schema cannot freeze the server (hardening items 1 and 10).

The schema's regexes run on RE2 under a deadline, once, when the answer stops; the verdict is
stored with the turn and pages only read it. Schemas are capped in size and nesting when they
are submitted, and the emulator refuses deeply nested bodies with a clear 400.
"""

import http.client
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from asgiref.sync import sync_to_async

from chatsite import safeschema
from chatsite.chat.models import Conversation, Turn

from .helpers import wait_for_turn
from .servers import PASSWORD, AppProcess, app_env, set_up_site

KEY = "x" * 26  # (x+x+)+y against this takes Python's `re` seconds per search, holding the GIL
CATASTROPHIC = {
    "type": "object",
    "properties": {
        # The emulator fills `q` with the message (26 x's): on `re` the first branch backtracks
        # for seconds before "item-1" matches the second.
        "q": {"type": "string", "pattern": "(x+x+)+y|^item-1$"},
        KEY: {"type": "string"},
    },
    "patternProperties": {"(x+x+)+y": {"type": "string"}},
    "required": ["q", KEY],
}


def structured(schema) -> dict:
    return {"type": "text", "mime_type": "application/json", "schema": schema}


def fan_out(levels: int) -> dict:
    """A few hundred bytes whose `allOf`s of `$ref`s expand to 2**levels schemas."""
    defs = {
        f"a{i}": {"allOf": [{"$ref": f"#/$defs/a{i + 1}"}, {"$ref": f"#/$defs/a{i + 1}"}]}
        for i in range(levels)
    }
    return {"$defs": {**defs, f"a{levels}": {"type": "string"}}, "$ref": "#/$defs/a0"}


# -- the safe check --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema, instance, valid",
    [
        ({"patternProperties": {"(x+x+)+y": {"type": "string"}}}, {KEY: 1}, True),
        ({"properties": {"q": {"pattern": "(x+x+)+y"}}}, {"q": KEY}, False),
        ({"patternProperties": {"(x+x+)+y": {}}, "additionalProperties": False}, {KEY: 1}, False),
        ({"propertyNames": {"pattern": "(x+x+)+y"}}, {KEY: 1}, False),
        ({"patternProperties": {"^x+$": {"type": "string"}}}, {KEY: 1}, False),
    ],
)
def test_catastrophic_patterns_are_checked_without_backtracking(schema, instance, valid):
    started = time.monotonic()
    verdict = safeschema.check(instance, schema)
    assert time.monotonic() - started < 1.0  # Python's `re` needs seconds for each
    assert verdict["valid"] is valid and bool(verdict["problem"]) is not valid


def test_a_pattern_re2_cannot_run_is_not_checked_rather_than_guessed():
    verdict = safeschema.check({"q": "ab"}, {"properties": {"q": {"pattern": "(a)\\1"}}})
    assert verdict["valid"] is None and "back-references" in verdict["problem"]


def test_json_schema_unicode_escapes_work_on_re2():
    schema = {"properties": {"q": {"pattern": "^\\u00e9t\\u00e9$"}}}
    assert safeschema.check({"q": "été"}, schema)["valid"] is True
    assert safeschema.check({"q": "ete"}, schema)["valid"] is False


def test_a_schema_that_explodes_stops_at_the_deadline():
    started = time.monotonic()
    verdict = safeschema.check("s", fan_out(40), seconds=0.3)
    assert verdict == {"valid": None, "problem": "checking took too long"}
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "text, depth",
    [
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[{{{{", "b": "\\"[[["}', 1),
        ("[" * 19_000, 19_000),
        (b'[[["]]]"]]]', 3),
    ],
)
def test_nesting_is_measured_without_recursion(text, depth):
    assert safeschema.nesting_depth(text) == depth


def test_nesting_of_text_full_of_escaped_quotes_is_measured_in_linear_time():
    started = time.monotonic()
    assert safeschema.nesting_depth("[[" + '"' + '\\"' * 100_000) == 2
    assert time.monotonic() - started < 1.0  # a backtracking scan takes over a minute


# -- the composer caps schemas ---------------------------------------------------------------


async def post_composer(async_client, user, schema_text):
    await async_client.aforce_login(user)
    form = {"message": "hello", "settings_form": "1", "response_schema": schema_text}
    return await async_client.post("/c/new/", form)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "schema_text, says",
    [
        ("[" * 19_000, "too deeply nested"),
        ('{"items": ' * 40 + "{}" + "}" * 40, "too deeply nested"),
        (json.dumps({"description": "é" * 12_000}, ensure_ascii=False), "bytes"),  # 24,000 B
        (json.dumps({"pattern": "(" * 5000 + ")" * 5000}), "too deeply nested"),
    ],
    ids=["brackets-19000-deep", "items-40-deep", "over-20000-bytes", "pattern-groups-5000-deep"],
)
async def test_composer_refuses_a_schema_too_deep_or_too_big_with_a_clear_422(
    async_client, user, schema_text, says
):
    response = await post_composer(async_client, user, schema_text)
    assert response.status_code == 422
    assert "Structured output" in response.content.decode() and says in response.content.decode()
    assert not await Conversation.objects.filter(owner=user).aexists()


# -- the emulator refuses deeply nested bodies ----------------------------------------------


def test_emulator_answers_400_invalid_argument_to_a_deeply_nested_body(emulator):
    body = '{"model": "gemini-3.5-flash", "input": ' + "[" * 19_000 + "]" * 19_000 + "}"
    response = httpx.post(
        emulator.base_url + "/interactions",
        content=body,
        headers={"x-goog-api-key": "k", "content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert "nests too deeply" in error["message"]


@pytest.mark.parametrize(
    "schema",
    [fan_out(30), {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}],
    ids=["allOf-fan-out", "allOf-refers-to-itself"],
)
def test_emulator_answers_400_to_a_schema_it_cannot_fill(emulator, schema):
    response = httpx.post(
        emulator.base_url + "/interactions",
        json={
            "model": "gemini-3.5-flash",
            "input": "hi",
            "response_format": structured(schema),
        },
        headers={"x-goog-api-key": "k"},
        timeout=20,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and "too complex" in error["message"]


# -- the verdict is stored once, pages only read it ------------------------------------------


async def run_structured_turn(user, open_tab, schema, text="a city please"):
    convo = await Conversation.objects.acreate(
        owner=user, title="t", model="gemini-3.5-flash", settings={"response_schema": schema}
    )
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": text})
    await tab.receive_until(lambda f: '"completed"]' in f, timeout=20)
    turn = await Turn.objects.filter(conversation=convo).alatest("pk")
    return convo, await wait_for_turn(turn.pk)


def page_of(user, convo) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(f"/c/{convo.pk}/").content.decode()


@pytest.mark.django_db(transaction=True)
async def test_the_verdict_is_stored_when_the_answer_stops_and_pages_only_read_it(user, open_tab):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    convo, turn = await run_structured_turn(user, open_tab, schema)
    assert list(turn.schema_verdicts.values()) == [{"valid": True, "problem": ""}]
    # A page shows what was stored, whatever the schema would say now.
    digest = next(iter(turn.schema_verdicts))
    turn.schema_verdicts = {digest: {"valid": False, "problem": "as stored at the stop"}}
    await turn.asave(update_fields=["schema_verdicts"])
    page = await sync_to_async(page_of)(user, convo)
    assert "JSON that does not match the schema: as stored at the stop" in page


@pytest.mark.django_db(transaction=True)
async def test_a_turn_saved_before_verdicts_shows_its_json_without_running_the_schema(user):
    schema = {"type": "object", "required": ["never-there"]}  # the answer does not match it
    convo = await Conversation.objects.acreate(owner=user, title="t", model="gemini-3.5-flash")
    answer = {"type": "model_output", "content": [{"type": "text", "text": '{"city": "Lyon"}'}]}
    await Turn.objects.acreate(
        conversation=convo, status="completed", user_input=[{"type": "text", "text": "hi"}],
        steps=[answer], request={"response_format": structured(schema)},
    )  # fmt: skip
    page = await sync_to_async(page_of)(user, convo)
    assert "&quot;city&quot;: &quot;Lyon&quot;" in page  # the pretty JSON
    assert "structured-check" not in page  # no verdict: none was stored, none is computed


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802 - the stdlib's name
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"type": "integer"}')

    def log_message(self, *args):
        pass


@pytest.mark.django_db(transaction=True)
async def test_a_schema_remote_ref_is_never_fetched(user, open_tab):
    listener = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        remote = f"http://127.0.0.1:{listener.server_port}/schema.json"
        # The emulator answers from the second branch; a check looks at both.
        schema = {"anyOf": [{"type": "null", "$ref": remote}, {"type": "object"}]}
        convo, turn = await run_structured_turn(user, open_tab, schema)
        await sync_to_async(page_of)(user, convo)
    finally:
        listener.shutdown()
    assert _Counting.hits == 0
    verdict = next(iter(turn.schema_verdicts.values()))
    assert verdict["valid"] is None and "$ref" in verdict["problem"]


# -- the whole thing: one server process, healthz pinged throughout ---------------------------


@pytest.fixture(scope="module")
def lone_server(tmp_path_factory):
    """The app under daphne with its embedded emulator: the turn, the pages, the admin and
    /healthz all share one process (and one GIL), as on a real offline site."""
    var = tmp_path_factory.mktemp("hardening")
    env = app_env(var, "", EMULATOR_PACE_MS="5")
    env.pop("GEMINI_API_BASE_URL")
    env.pop("DATABASE_URL", None)  # SQLite of its own
    env.pop("REDIS_URL", None)
    set_up_site(env, users=("ada",))
    app = AppProcess(env, var / "daphne.log")
    yield app
    app.stop()


class HealthPinger(threading.Thread):
    """GET /healthz in a loop over one kept-alive connection; records each latency."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.done = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.done.is_set():
            started = time.perf_counter()
            try:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                body = response.read()
            except OSError as exc:
                self.failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            self.latencies.append(time.perf_counter() - started)
            if response.status != 200:
                self.failures.append(f"{response.status} {body[:200]!r}")
            time.sleep(0.02)
        conn.close()


def sign_in(base_url, username) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=60)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
    )
    assert response.status_code == 302, response.text
    return client


def send_and_wait(client, base, **form) -> str:
    """POST a new conversation's first message; wait until its reply completes; its URL."""
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get("/").text)
    response = client.post(
        "/c/new/", data={**form, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{base}/"},
    )  # fmt: skip
    assert response.status_code == 302, response.text
    page_url = response.headers["location"]
    deadline = time.monotonic() + 60
    while 'data-status="completed"' not in (page := client.get(page_url).text):
        assert time.monotonic() < deadline, "the turn did not complete"
        assert 'data-status="failed"' not in page, page
        time.sleep(0.1)
    return page_url


def test_catastrophic_schema_does_not_block_healthz(lone_server):
    base = lone_server.url
    ada, admin = sign_in(base, "ada"), sign_in(base, "admin")
    # The embedded emulator starts on first use (a one-off pause that is not this test's).
    send_and_wait(ada, base, message="hello")
    pinger = HealthPinger(lone_server.port)
    pinger.start()
    try:
        time.sleep(0.3)  # a baseline before the hostile turn
        page_url = send_and_wait(
            ada, base, message=KEY, settings_form="1", response_schema=json.dumps(CATASTROPHIC)
        )
        pk = re.search(r"/c/(\d+)/", page_url).group(1)
        for _ in range(3):
            page = ada.get(page_url).text
            transcript = admin.get(f"/admin/chat/conversation/{pk}/change/").text
        # The hostile answer is really there, checked once and shown from the stored verdict.
        assert KEY in page and KEY in transcript
        assert "JSON that matches the schema" in page
        assert "JSON that matches the schema" in transcript
    finally:
        pinger.done.set()
        pinger.join(30)
    assert not pinger.failures, pinger.failures
    latencies = sorted(pinger.latencies)
    assert len(latencies) >= 5, latencies
    # /healthz answered within 200 ms while the turn ran and its pages rendered; Python's `re`
    # froze the process for seconds at each of them. One ping may wait a little longer behind
    # a page render on a loaded machine (both use the one sync thread), never a freeze's worth.
    assert latencies[-2] < 0.2, f"slowest /healthz: {latencies[-5:]}"
    assert latencies[-1] < 1.0, f"slowest /healthz: {latencies[-5:]}"
