"""RequestGuard: the HTTP checks made before Strawberry sees a GraphQL request.

An ASGI middleware on the GraphQL path that refuses, each with a GraphQL error body and its
own `extensions.code`:

- a body over `max_body_bytes` (REQUEST_TOO_LARGE, 413), counted as it streams in;
- a body not all there within `body_timeout` seconds (REQUEST_TIMEOUT, 408), answered with
  `connection: close`: a slow sender keeps neither a request slot nor its connection;
- a body that is not UTF-8 (INVALID_UTF8) or not JSON (INVALID_JSON), or a JSON array
  (BATCHING_NOT_SUPPORTED);
- JSON nested deeper than `max_json_depth` (JSON_TOO_DEEP), in a body or in a GET's
  `variables` and `extensions` parameters, found before any parser recurses into it;
- with CSRF prevention on, a request that could run an operation but that a browser could
  send cross-site without a preflight (CSRF_PREVENTED), as Apollo Router does: it must carry a
  non-simple Content-Type, or an `apollo-require-preflight` / `x-apollo-operation-name`
  header.

Strawberry's own plain-text refusals (a GET mutation, a missing query) are rewritten into the
same GraphQL error shape (BAD_REQUEST, METHOD_NOT_ALLOWED, ...). Each refusal of the guard's
own is reported to `on_refusal(code, seconds)` (the app counts it in its metrics).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.json_depth import MAX_JSON_DEPTH, nests_deeper_than

__all__ = ["JSON_BODY_KEY", "RequestGuard", "refusal_code", "replay_body"]

# The JSON object a checked body held, left in the scope for the app inside (JsonRoute), so
# that it is not parsed twice.
JSON_BODY_KEY = "gateway.json_body"

# Content types a cross-site <form> or fetch() may send without a CORS preflight.
_SIMPLE_CONTENT_TYPES = {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
_PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name")
_STATUS_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


# Strawberry's plain-text refusals that deserve a code of their own.
_STRAWBERRY_MESSAGES = {
    "mutations are not allowed when using get": (405, "MUTATION_OVER_GET"),
    "unknown operation named": (400, "UNKNOWN_OPERATION_NAME"),
    "no graphql query found": (400, "MISSING_QUERY"),
}


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.close = close  # the connection too, after the answer


class RequestGuard:
    """Guard `path` of `app`; see the module docstring for what is refused."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        max_body_bytes: int,
        csrf_prevention: bool,
        max_json_depth: int = MAX_JSON_DEPTH,
        on_refusal: Callable[[str, float], None] | None = None,
        body_timeout: float | None = None,
    ) -> None:
        self.app = app
        self.path = path.rstrip("/")
        self.max_body_bytes = max_body_bytes
        self.csrf_prevention = csrf_prevention
        self.max_json_depth = max_json_depth
        self.on_refusal = on_refusal
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {name.lower(): value for name, value in scope["headers"]}
        try:
            self._check_csrf(scope, headers)
            if scope["method"] == "GET":
                self._check_query_json(scope)
            body = await self._read_body(receive, headers) if scope["method"] == "POST" else b""
            if body:
                payload = self._check_json(body, headers)
                if payload is not None:
                    scope[JSON_BODY_KEY] = payload
        except _Refusal as refusal:
            await _send_error(send, refusal.status, refusal.code, str(refusal), close=refusal.close)
            if self.on_refusal is not None:
                self.on_refusal(refusal.code, time.perf_counter() - started)
            return
        await self.app(scope, replay_body(body, receive), _RewritePlainErrors(send))

    def _check_csrf(self, scope: Scope, headers: dict[bytes, bytes]) -> None:
        if not self.csrf_prevention or not _runs_an_operation(scope):
            return
        if any(headers.get(name, b"").strip() for name in _PREFLIGHT_HEADERS):
            return
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type and media_type not in _SIMPLE_CONTENT_TYPES:
            return
        raise _Refusal(
            400,
            "CSRF_PREVENTED",
            "This operation has been blocked as a potential cross-site request forgery: send "
            "it with Content-Type: application/json, or with an `apollo-require-preflight: "
            "true` header.",
        )

    async def _read_body(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large()
        try:
            async with asyncio.timeout(self.body_timeout):
                return await self._receive_body(receive)
        except TimeoutError:
            raise _Refusal(
                408,
                "REQUEST_TIMEOUT",
                f"The request body did not arrive within {self.body_timeout:g}s; send it "
                "whole, without pauses.",
                close=True,
            ) from None

    async def _receive_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self) -> _Refusal:
        return _Refusal(
            413,
            "REQUEST_TOO_LARGE",
            f"The request body is larger than {self.max_body_bytes} bytes.",
        )

    def _check_json(self, body: bytes, headers: dict[bytes, bytes]) -> dict[str, Any] | None:
        """The body's JSON object, refused unless it is one; None if the body is not JSON."""
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if "json" not in content_type:
            return None  # multipart and others are Strawberry's to judge
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refusal(400, "INVALID_UTF8", "The request body is not valid UTF-8.") from None
        if nests_deeper_than(body, self.max_json_depth):
            raise self._too_deep("The request body")
        try:
            payload = json.loads(text)
        except ValueError:
            raise _Refusal(400, "INVALID_JSON", "The request body is not valid JSON.") from None
        if isinstance(payload, list):
            raise _Refusal(
                400,
                "BATCHING_NOT_SUPPORTED",
                "Batched requests (a JSON array) are not supported; send one operation.",
            )
        if not isinstance(payload, dict):
            raise _Refusal(400, "BAD_REQUEST", "The request body must be a JSON object.")
        return payload

    def _check_query_json(self, scope: Scope) -> None:
        """Refuse a GET whose `variables` or `extensions` (JSON, parsed by Strawberry) nest
        too deep."""
        query_string = scope.get("query_string", b"")
        if b"[" not in query_string and b"{" not in query_string and b"%" not in query_string:
            return  # no bracket, not even an escaped one
        params = parse_qs(query_string.decode("latin-1"))
        for name in ("variables", "extensions"):
            for value in params.get(name, ()):
                if nests_deeper_than(value, self.max_json_depth):
                    raise self._too_deep(f"The `{name}` parameter")

    def _too_deep(self, what: str) -> _Refusal:
        return _Refusal(
            400,
            "JSON_TOO_DEEP",
            f"{what} nests arrays and objects more than {self.max_json_depth} levels deep.",
        )


def refusal_code(status: int, message: str) -> tuple[int, str]:
    """The status and `extensions.code` a plain-text 4xx refusal (Strawberry's) is answered
    with; the router logs and counts it under the same."""
    code = _STATUS_CODES.get(status, "BAD_REQUEST")
    for fragment, (fragment_status, fragment_code) in _STRAWBERRY_MESSAGES.items():
        if fragment in message.lower():
            status, code = fragment_status, fragment_code
    return status, code


def _runs_an_operation(scope: Scope) -> bool:
    if scope["method"] == "POST":
        return True
    if scope["method"] == "GET":
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return "query" in params or "extensions" in params
    return False


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive callable that hands the already-read body to the app once."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _RewritePlainErrors:
    """Turn Strawberry's plain-text 4xx answers into GraphQL error JSON with a code."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status: int | None = None
        self.start: Message | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", []))
            content_type = headers.get(b"content-type", b"")
            if 400 <= message["status"] < 500 and b"json" not in content_type:
                self.status, self.start = message["status"], message
                return
        elif message["type"] == "http.response.body" and self.start is not None:
            text = message.get("body", b"").decode("utf-8", "replace").strip()
            assert self.status is not None
            status, code = refusal_code(self.status, text)
            await _send_error(self.send, status, code, text or code)
            self.start = None
            return
        await self.send(message)


async def _send_error(
    send: Send, status: int, code: str, message: str, *, close: bool = False
) -> None:
    body = json.dumps(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body.encode())).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})
