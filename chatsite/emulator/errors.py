"""Google-style errors: ``{"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}``."""

from __future__ import annotations

import json

# HTTP status -> canonical google.rpc status name and a default message (what the real API says).
STATUS_NAMES: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request is missing required authentication credential.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission."),
    404: ("NOT_FOUND", "Requested entity was not found."),
    408: ("DEADLINE_EXCEEDED", "The request timed out."),
    409: ("ABORTED", "The operation was aborted."),
    413: ("INVALID_ARGUMENT", "Request payload size exceeds the limit."),
    429: (
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
    ),
    499: ("CANCELLED", "The operation was cancelled."),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    501: ("UNIMPLEMENTED", "Operation is not implemented, or supported, or enabled."),
    502: ("UNAVAILABLE", "Bad gateway. Please try again later."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out. Please try again."),
}

UNREGISTERED_CALLER = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
INVALID_API_KEY = "API key not valid. Please pass a valid API key."


class ApiError(Exception):
    """Raised anywhere in request handling; rendered as a Google-style JSON error."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        status: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        fallback = (
            ("UNKNOWN", "Unknown error.")
            if code >= 500
            else ("FAILED_PRECONDITION", "The request could not be completed.")
        )
        default_status, default_message = STATUS_NAMES.get(code, fallback)
        self.code = code
        self.status = status or default_status
        self.message = message or default_message
        self.headers = headers or {}
        super().__init__(f"{code} {self.status}: {self.message}")

    def body(self) -> dict:
        return error_body(self.code, self.message, self.status)

    def body_bytes(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False, indent=2).encode()


def error_body(code: int, message: str, status: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


def invalid_argument(message: str) -> ApiError:
    return ApiError(400, message, "INVALID_ARGUMENT")


def not_found(interaction_id: str) -> ApiError:
    return ApiError(404, f"Interaction {interaction_id} not found", "NOT_FOUND")


def failed_precondition(message: str) -> ApiError:
    return ApiError(400, message, "FAILED_PRECONDITION")


def permission_denied() -> ApiError:
    return ApiError(403, UNREGISTERED_CALLER, "PERMISSION_DENIED")


def invalid_api_key() -> ApiError:
    return ApiError(400, INVALID_API_KEY, "INVALID_ARGUMENT")


def type_error(field: str, proto_type: str, value: object) -> ApiError:
    """The message Google's JSON->proto layer gives for a value of the wrong type."""
    shown = json.dumps(value, ensure_ascii=False)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return invalid_argument(f"Invalid value at '{field}' ({proto_type}), {shown}")
