"""Auth, routing and Google-style error bodies."""

from __future__ import annotations

import httpx
import pytest

from chatsite.emulator.server import EmulatorServer

from .conftest import MODEL, create

UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def assert_google_error(response: httpx.Response, code: int, status: str) -> str:
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["code"] == code
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


def test_missing_api_key_is_permission_denied(server: EmulatorServer) -> None:
    response = httpx.post(server.base_url + "/interactions", json={"model": MODEL, "input": "hi"})
    assert response.json() == {
        "error": {"code": 403, "message": UNREGISTERED, "status": "PERMISSION_DENIED"}
    }
    assert response.status_code == 403


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
def test_missing_api_key_on_every_route(server: EmulatorServer, method: str) -> None:
    url = server.base_url + "/interactions/v1_x" + ("/cancel" if method == "POST" else "")
    response = httpx.request(method, url)
    assert_google_error(response, 403, "PERMISSION_DENIED")


def test_empty_api_key_is_missing(server: EmulatorServer) -> None:
    response = httpx.get(server.base_url + "/interactions/v1_x", headers={"x-goog-api-key": ""})
    assert_google_error(response, 403, "PERMISSION_DENIED")


def test_any_key_works_and_query_key_too(server: EmulatorServer) -> None:
    body = {"model": MODEL, "input": "hi"}
    by_header = httpx.post(
        server.base_url + "/interactions", json=body, headers={"x-goog-api-key": "whatever"}
    )
    assert by_header.status_code == 200
    by_query = httpx.post(server.base_url + "/interactions?key=abc", json=body)
    assert by_query.status_code == 200


def test_specific_api_key_must_match() -> None:
    with EmulatorServer(port=0, api_key="s3cret") as locked:
        url = locked.base_url + "/interactions"
        body = {"model": MODEL, "input": "hi"}
        wrong = httpx.post(url, json=body, headers={"x-goog-api-key": "nope"})
        message = assert_google_error(wrong, 400, "INVALID_ARGUMENT")
        assert message == "API key not valid. Please pass a valid API key."
        missing = httpx.post(url, json=body)
        assert_google_error(missing, 403, "PERMISSION_DENIED")
        right = httpx.post(url, json=body, headers={"x-goog-api-key": "s3cret"})
        assert right.status_code == 200


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("DELETE", ""), ("POST", "/cancel"), ("POST", ":cancel")],
)
def test_unknown_interaction_is_not_found(client: httpx.Client, method: str, suffix: str) -> None:
    response = client.request(method, "/interactions/v1_doesNotExist" + suffix)
    message = assert_google_error(response, 404, "NOT_FOUND")
    assert message == "Interaction v1_doesNotExist not found"


def test_unknown_previous_interaction_is_not_found(client: httpx.Client) -> None:
    response = create(client, "hi", previous_interaction_id="v1_gone")
    assert assert_google_error(response, 404, "NOT_FOUND") == "Interaction v1_gone not found"


def test_malformed_json_is_invalid_argument(client: httpx.Client) -> None:
    response = client.post(
        "/interactions", content=b'{"model": "m", "input": ', headers={"content-type": "x"}
    )
    message = assert_google_error(response, 400, "INVALID_ARGUMENT")
    assert "Invalid JSON payload" in message


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"input": "hi"}, "'model'"),
        ({"model": MODEL, "agent": "deep-research-pro-preview-12-2025", "input": "hi"}, "both"),
        ({"model": MODEL}, "'input' is required"),
        ({"model": MODEL, "input": "hi", "store": "yes"}, "'store' (TYPE_BOOL)"),
        ({"model": MODEL, "input": "hi", "stream": 1}, "'stream' (TYPE_BOOL)"),
        ({"model": 42, "input": "hi"}, "'model' (TYPE_STRING)"),
        ({"model": MODEL, "input": 5}, "'input'"),
        ({"model": MODEL, "input": []}, "empty"),
        ({"model": MODEL, "input": "hi", "tools": "google_search"}, "'tools'"),
        ({"model": MODEL, "input": "hi", "tools": [{"name": "f"}]}, "tools[0]"),
        ({"model": MODEL, "input": "hi", "generation_config": []}, "generation_config"),
        (
            {"model": MODEL, "input": "hi", "generation_config": {"max_output_tokens": "9"}},
            "max_output_tokens",
        ),
        ({"model": MODEL, "input": "hi", "system_instruction": ["x"]}, "system_instruction"),
        ({"model": MODEL, "input": "hi", "previous_interaction_id": 7}, "previous_interaction"),
        ({"model": MODEL, "input": [{"type": "user_input", "content": 3}]}, "input[0].content"),
        (
            {"model": MODEL, "input": [{"type": "text", "text": "a"}, {"type": "user_input"}]},
            "mixes steps and content",
        ),
        ({"model": MODEL, "input": "hi", "background": True, "store": False}, "background"),
        (
            {"agent": "deep-research-pro-preview-12-2025", "input": "hi", "generation_config": {}},
            "generation_config",
        ),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_bad_bodies_are_invalid_argument(client: httpx.Client, body: object, needle: str) -> None:
    response = client.post("/interactions", json=body)
    message = assert_google_error(response, 400, "INVALID_ARGUMENT")
    assert needle in message


def test_unknown_fields_are_accepted(client: httpx.Client) -> None:
    response = create(client, "hi", some_future_field={"x": 1}, another=None)
    assert response.status_code == 200


@pytest.mark.parametrize("version", ["v1beta", "v1", "v1alpha", "v1beta1/projects/p/locations/l"])
def test_any_version_prefix(server: EmulatorServer, version: str) -> None:
    base = f"{server.url}/{version}/interactions"
    headers = {"x-goog-api-key": "k"}
    created = httpx.post(base, json={"model": MODEL, "input": "hi"}, headers=headers)
    assert created.status_code == 200
    interaction_id = created.json()["id"]
    fetched = httpx.get(f"{base}/{interaction_id}", headers=headers)
    assert fetched.json()["id"] == interaction_id
    assert httpx.delete(f"{base}/{interaction_id}", headers=headers).json() == {}


def test_unknown_route_is_google_style_404(client: httpx.Client) -> None:
    response = client.get("/models")
    assert_google_error(response, 404, "NOT_FOUND")


def test_last_event_id_needs_stream(client: httpx.Client) -> None:
    interaction_id = create(client, "hi").json()["id"]
    response = client.get(f"/interactions/{interaction_id}", params={"last_event_id": "1"})
    assert "stream" in assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_unknown_last_event_id(client: httpx.Client) -> None:
    interaction_id = create(client, "hi").json()["id"]
    response = client.get(
        f"/interactions/{interaction_id}", params={"stream": "true", "last_event_id": "nope"}
    )
    assert "nope" in assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_bad_boolean_query(client: httpx.Client) -> None:
    interaction_id = create(client, "hi").json()["id"]
    response = client.get(f"/interactions/{interaction_id}", params={"stream": "maybe"})
    assert "'stream' (TYPE_BOOL)" in assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_requests_are_recorded(server: EmulatorServer, client: httpx.Client) -> None:
    response = create(client, "record me please")
    interaction_id = response.json()["id"]
    entry = next(r for r in server.store.create_requests() if r.interaction_id == interaction_id)
    assert entry.body == {"model": MODEL, "input": "record me please"}
    assert entry.headers["x-goog-api-key"] == "test-key"
    assert entry.status == 200
    assert {"model": MODEL, "input": "record me please"} in server.store.create_bodies()
