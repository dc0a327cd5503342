"""JsonRoute: a POST of one operation as JSON goes straight to `GatewayRouter.run_json`.

Nearly every GraphQL request is a POST of `{"query", "variables", "operationName",
"extensions"}` as `application/json`. FastAPI's routing (dependencies solved, a Request
and a Response made per request) and Strawberry's HTTP view (methods, content negotiation,
batches, streams, GraphiQL) cost more than answering a small query; this ASGI middleware,
inside RequestGuard, hands such requests to the router directly.

    request ── POST, path exactly `path`, Content-Type application/json, no streaming
               Accept, a JSON object whose query/variables/extensions Strawberry accepts
      ├─ yes: GatewayRouter.run_json (Strawberry's refusals answered as its route does)
      └─ no:  the app, unchanged (FastAPI's route and Strawberry's view)

The body's JSON is the object RequestGuard parsed while checking it (`JSON_BODY_KEY`).
Both paths answer alike: tests/gateway/test_json_route.py sends the same requests down each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http import GraphQLRequestData

from gateway.http.json_depth import loads_within_depth
from gateway.http.request_guard import JSON_BODY_KEY, replay_body

if TYPE_CHECKING:
    from gateway.http.router import GatewayRouter

__all__ = ["JsonRoute"]

_OPTIONAL_OBJECT = (dict, type(None))
_OPTIONAL_STRING = (str, type(None))


class JsonRoute:
    """Send `path`'s JSON POSTs of one operation to `router.run_json`; see the module."""

    def __init__(self, app: ASGIApp, *, path: str, router: GatewayRouter) -> None:
        self.app = app
        self.path = path
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_json_post(scope, self.path):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        payload = scope.get(JSON_BODY_KEY)
        request_data = _one_operation(_parsed(body) if payload is None else payload)
        receive = replay_body(body, receive)
        if request_data is None:  # Strawberry's view judges (and refuses) it
            await self.app(scope, receive, send)
            return
        response: Response
        try:
            response = await self.router.run_json(Request(scope, receive), request_data)
        except HTTPException as error:  # as Strawberry's FastAPI route answers it
            response = PlainTextResponse(error.reason, status_code=error.status_code)
        await response(scope, receive, send)


def _is_json_post(scope: Scope, path: str) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != path:
        return False
    if scope.get("root_path"):  # mounted: leave the path arithmetic to Starlette's router
        return False
    content_type = b""
    accept = b""
    for name, value in scope["headers"]:
        name = name.lower()
        if name == b"content-type":
            content_type = value
        elif name == b"accept":
            accept += value.lower()
    media_type = content_type.split(b";", 1)[0].strip().lower()
    # A multipart or event-stream Accept asks Strawberry for a streamed answer.
    return media_type == b"application/json" and not (
        b"multipart" in accept or b"event-stream" in accept
    )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _parsed(body: bytes) -> Any:
    """`body` parsed as Strawberry parses it (the same numbers, NaN, ...), None if it is not
    JSON or nests too deep: for a body RequestGuard, outside, has not parsed already."""
    try:
        return loads_within_depth(body)
    except ValueError:
        return None


def _one_operation(payload: Any) -> GraphQLRequestData | None:
    """The operation in the body's JSON, or None for anything Strawberry's view would treat
    otherwise (not a JSON object, a query, variables or extensions of the wrong type)."""
    if not isinstance(payload, dict):
        return None
    query = payload.get("query")
    variables = payload.get("variables")
    extensions = payload.get("extensions")
    if not (
        isinstance(query, _OPTIONAL_STRING)
        and isinstance(variables, _OPTIONAL_OBJECT)
        and isinstance(extensions, _OPTIONAL_OBJECT)
    ):
        return None
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=payload.get("operationName"),
        extensions=extensions,
        protocol="http",
    )
