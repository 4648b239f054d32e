"""What every route of the shop shares: the problem answer, request parsing and validation.

Errors are ``{"error": ..., "detail": ...}`` with the status the problem calls for; anything the
client sent wrong is a 4xx, never a 500.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

MAX_KEY_LEN = 200
MAX_TEXT = 2000
# One order (or cart) holds at most this many products, each at most this many times.
MAX_ITEMS = 50
MAX_QUANTITY = 100


class ApiProblem(Exception):
    """A request the shop refuses, carried to the HTTP answer: ``status`` is the HTTP status.
    Not a PeakdrillError: it never reaches a peakdrill user, only an HTTP client."""

    def __init__(self, http_status: int, error: str, detail: str, /, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.extra = http_status, error, detail, extra


def problem(http_status: int, error: str, detail: str, /, **extra: Any) -> Response:
    return answer({"error": error, "detail": detail, **extra}, http_status)


def answer(body: dict[str, Any], http_status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    return response


def idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_KEY_LEN:
        raise ApiProblem(400, "missing Idempotency-Key",
                         f"send a unique Idempotency-Key header (1..{MAX_KEY_LEN} characters) and reuse it "
                         "on retries of the same request")
    return key


def json_object() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise ApiProblem(400, "malformed JSON", "the request body must be a JSON document "
                         "(Content-Type: application/json)")
    if not isinstance(body, dict):
        raise ApiProblem(400, "invalid body", f"expected a JSON object, got {type(body).__name__}")
    return body


def positive_int(body: dict[str, Any], field: str, high: int | None = None) -> int:
    value = body.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or (high is not None and value > high):
        limit = f"1..{high}" if high is not None else "a positive integer"
        raise ApiProblem(422, f"invalid {field}", f"{field} must be {limit}, got {value!r}"[:300])
    return value


def text(body: dict[str, Any], field: str, max_len: int = MAX_TEXT) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise ApiProblem(422, f"invalid {field}",
                         f"{field} must be a non-empty string of at most {max_len} characters, got {value!r}"[:300])
    return value
