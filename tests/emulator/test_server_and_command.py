"""EmulatorServer lifecycle, store limits, and `manage.py emulator`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chatsite.emulator.server import EmulatorServer

from .conftest import MODEL

ROOT = Path(__file__).resolve().parents[2]


def test_server_addresses_and_restart() -> None:
    server = EmulatorServer(port=0)
    with server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.base_url == server.url + "/v1beta"
        assert httpx.get(server.url + "/healthz").json()["interactions"] == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/healthz")


def test_stop_ends_running_generations() -> None:
    with EmulatorServer(port=0) as server:
        response = httpx.post(
            server.base_url + "/interactions",
            json={
                "model": MODEL,
                "input": "[emulator:words=999] [emulator:pace=50] x",
                "background": True,
            },
            headers={"x-goog-api-key": "k"},
        )
        interaction_id = response.json()["id"]
        started = time.monotonic()
    assert time.monotonic() - started < 5
    assert server.store.status(interaction_id) == "cancelled"


def test_oldest_finished_interactions_are_evicted() -> None:
    with EmulatorServer(port=0, max_interactions=3) as server:
        ids = []
        for n in range(5):
            response = httpx.post(
                server.base_url + "/interactions",
                json={"model": MODEL, "input": f"n{n}"},
                headers={"x-goog-api-key": "k"},
            )
            ids.append(response.json()["id"])
        assert list(server.store.interactions) == ids[2:]
        gone = httpx.get(
            f"{server.base_url}/interactions/{ids[0]}", headers={"x-goog-api-key": "k"}
        )
        assert gone.status_code == 404


def test_unsupported_method_is_google_style(server: EmulatorServer) -> None:
    response = httpx.put(server.base_url + "/interactions", headers={"x-goog-api-key": "k"})
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_management_command_serves_in_the_foreground() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "emulator",
            "--port",
            str(port),
            "--pace-ms",
            "0",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1beta" in first_line
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/v1beta/interactions",
                    json={"model": MODEL, "input": "hello command"},
                    headers={"x-goog-api-key": "k"},
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the emulator command did not start"
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json()["status"] == "completed"
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
