"""The official SDK (google-genai 3.3.0) against `python manage.py emulator` — the standalone
command a person runs — at base URL http://127.0.0.1:<port> and API version v1beta: it creates,
streams, gets, replays, chains and deletes interactions without errors."""

import subprocess
import sys
import time

import httpx
import pytest
from google import genai

from .servers import ROOT, free_port


@pytest.fixture(scope="module")
def command_url():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "emulator", "--port", str(port), "--pace-ms", "2"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/v1beta/interactions/none", timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline and process.poll() is None, "no emulator"
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


def test_the_sdk_creates_streams_gets_replays_chains_and_deletes(command_url):
    client = genai.Client(
        api_key="any-key", http_options={"base_url": command_url, "api_version": "v1beta"}
    )
    first = client.interactions.create(model="gemini-3.5-flash", input="my name is Ada")
    assert first.status == "completed" and first.id.startswith("v1_")

    events = list(
        client.interactions.create(
            model="gemini-3.5-flash", input="what is my name?",
            previous_interaction_id=first.id, stream=True,
        )
    )  # fmt: skip
    assert events[0].event_type == "interaction.created"
    assert events[-1].event_type == "interaction.completed"
    second_id = events[0].interaction.id
    text = "".join(
        e.delta.text for e in events if e.event_type == "step.delta" and e.delta.type == "text"
    )
    assert "my name is Ada" in text  # chained: the emulator saw the first turn

    got = client.interactions.get(second_id)
    assert got.status == "completed" and got.previous_interaction_id == first.id

    replay = list(client.interactions.get(second_id, stream=True))
    middle = replay[len(replay) // 2].event_id
    rest = list(client.interactions.get(second_id, stream=True, last_event_id=middle))
    assert [e.event_id for e in rest] == [e.event_id for e in replay[len(replay) // 2 + 1 :]]

    client.interactions.delete(second_id)
    with pytest.raises(Exception) as gone:
        client.interactions.get(second_id)
    assert "404" in str(gone.value)
