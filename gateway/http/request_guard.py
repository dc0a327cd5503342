"""RequestGuard: the HTTP checks made before anything parses a GraphQL request.

An ASGI middleware on the GraphQL path. It reads the body once, runs the checks in order,
and answers the first refusal (gateway.http.refusal) itself, each with its own code:

    method      GET, HEAD or POST, else METHOD_NOT_ALLOWED (405)
    Accept      gateway.http.media_types: the answer's media type, left in the scope
                (`MEDIA_TYPE_KEY`); NOT_ACCEPTABLE (406) when neither JSON type is accepted
    CSRF        gateway.http.csrf: CSRF_PREVENTED, when csrf_prevention is on
    token       `authenticate` (gateway.identity.tokens): UNAUTHENTICATED (401), before
                the body is read; the Viewer is left in the scope (`VIEWER_KEY`)
    GET         gateway.http.json_body: JSON_TOO_DEEP in `variables` / `extensions`
    body        gateway.http.request_body: REQUEST_TOO_LARGE, REQUEST_TIMEOUT
    JSON body   gateway.http.json_body: INVALID_UTF8, INVALID_JSON, JSON_TOO_DEEP,
                BATCHING_NOT_SUPPORTED, BAD_REQUEST (also for a POST without a body)

Every refusal is written in the negotiated media type, with a correlation id and a log line
(gateway.http.request_log). A JSON body that passes is left parsed in the scope
(`JSON_BODY_KEY`) for the JSON fast path (gateway.http.json_fast_path), and the body itself
is replayed to the app inside. Each refusal is reported to `on_refusal(code, seconds)` (the
app counts it in its metrics).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http.csrf import check_csrf
from gateway.http.json_body import check_query_parameters, json_object
from gateway.http.json_depth import MAX_JSON_DEPTH
from gateway.http.media_types import GRAPHQL_RESPONSE, JSON, MEDIA_TYPE_KEY, negotiate
from gateway.http.refusal import Refusal, send_refusal
from gateway.http.request_body import read_body, replay_body
from gateway.http.request_log import CORRELATION_HEADER, RequestRecord, log_request
from gateway.identity.tokens import TokenRejected
from gateway.identity.viewer import Viewer

__all__ = ["JSON_BODY_KEY", "VIEWER_KEY", "Authenticate", "RequestGuard"]

# The request's verified Viewer, left in the scope for the context getter.
VIEWER_KEY = "gateway.viewer"
# The Authorization header's value (None without one) to its Viewer, or TokenRejected.
Authenticate = Callable[[bytes | None], Awaitable[Viewer]]

# The JSON object a checked body held, left in the scope for the app inside, so that it is
# neither read nor parsed twice.
JSON_BODY_KEY = "gateway.json_body"

_METHODS = ("GET", "HEAD", "POST")


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
        authenticate: Authenticate | None = None,
    ) -> None:
        self.app = app
        self.path = path.rstrip("/")
        self.max_body_bytes = max_body_bytes
        self.csrf_prevention = csrf_prevention
        self.max_json_depth = max_json_depth
        self.on_refusal = on_refusal
        self.body_timeout = body_timeout
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        media_type = negotiate(_accept(scope["headers"]))
        scope[MEDIA_TYPE_KEY] = media_type or JSON
        try:
            body = await self._check(scope, receive, acceptable=media_type is not None)
        except Refusal as refusal:
            # Every answer carries a correlation id and a log line, a refusal too (the
            # router's come later).
            record = RequestRecord(status=refusal.status, error_codes=[refusal.code])
            refusal.headers = (*refusal.headers, (CORRELATION_HEADER, record.correlation_id))
            await send_refusal(send, refusal, scope[MEDIA_TYPE_KEY])
            duration = time.perf_counter() - started
            record.duration_ms = duration * 1000
            log_request(record)
            if self.on_refusal is not None:
                self.on_refusal(refusal.code, duration)
            return
        await self.app(
            scope, replay_body(body, receive) if scope["method"] == "POST" else receive, send
        )

    async def _check(self, scope: Scope, receive: Receive, *, acceptable: bool) -> bytes:
        """The request's body, once every check passed (a Refusal raised otherwise)."""
        method = scope["method"]
        if method not in _METHODS:
            raise Refusal(
                405,
                "METHOD_NOT_ALLOWED",
                f"GraphQL is served over GET and POST, not {method}.",
                headers=[("allow", "GET, POST")],
            )
        # A browser opening GraphiQL accepts text/html: only a GraphQL request is refused.
        if not acceptable and (method == "POST" or _names_an_operation(scope)):
            raise Refusal(
                406,
                "NOT_ACCEPTABLE",
                f"GraphQL answers are {GRAPHQL_RESPONSE} or {JSON}; accept one of them.",
            )
        headers = {name.lower(): value for name, value in scope["headers"]}
        if self.csrf_prevention:
            check_csrf(scope, headers)
        if self.authenticate is not None:
            try:
                scope[VIEWER_KEY] = await self.authenticate(_authorization(scope["headers"]))
            except TokenRejected as rejected:
                raise Refusal(
                    401,
                    "UNAUTHENTICATED",
                    str(rejected),
                    headers=[("www-authenticate", 'Bearer error="invalid_token"')],
                ) from None
        if method != "POST":
            check_query_parameters(scope.get("query_string", b""), self.max_json_depth)
            return b""
        body = await read_body(
            receive, headers, max_bytes=self.max_body_bytes, timeout=self.body_timeout
        )
        if not body:
            # The body was read: nothing would be left for the app to wait for but a hang.
            raise Refusal(
                400, "BAD_REQUEST", 'A POST carries the operation as its body: {"query": "..."}.'
            )
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        payload = json_object(body, content_type, self.max_json_depth)
        if payload is not None:
            scope[JSON_BODY_KEY] = payload
        return body


def _accept(raw_headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The Accept header's ranges, several headers joined as one list."""
    values = [value for name, value in raw_headers if name.lower() == b"accept"]
    return b",".join(values) if values else None


def _names_an_operation(scope: Scope) -> bool:
    """Whether a GET asks for an operation (a `query` or persisted `extensions` parameter)."""
    names = {pair.split(b"=", 1)[0] for pair in scope.get("query_string", b"").split(b"&")}
    return b"query" in names or b"extensions" in names


def _authorization(raw_headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The one Authorization header; two are refused (which one would a proxy have checked?)."""
    values = [value for name, value in raw_headers if name.lower() == b"authorization"]
    if len(values) > 1:
        raise TokenRejected("Send one Authorization header, not several.")
    return values[0] if values else None
