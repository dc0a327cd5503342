"""JsonFastPath: a POST of one operation as JSON goes straight to `GatewayRouter.run_json`.

Nearly every GraphQL request is a POST of `{"query", "variables", "operationName",
"extensions"}` as `application/json`. FastAPI's routing (dependencies solved, a Request
and a Response made per request) and Strawberry's HTTP view (methods, content negotiation,
batches, streams, GraphiQL) cost more than answering a small query; this ASGI middleware,
inside RequestGuard, hands such requests to the router directly.

    request ── POST, path exactly `path`, Content-Type application/json, no streaming
               Accept, a JSON object RequestGuard parsed (`JSON_BODY_KEY`) whose
               query/variables/extensions Strawberry accepts
      ├─ yes: GatewayRouter.run_json (its refusals answered as on the other path)
      └─ no:  the app, unchanged (FastAPI's route and Strawberry's view)

It reads no body: the JSON is the object RequestGuard parsed while checking it, and the
body RequestGuard replays stays unread for the app when the request is not taken. Both paths
answer alike: tests/gateway/test_json_fast_path.py sends the same requests down each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http import GraphQLRequestData

from gateway.http.request_guard import JSON_BODY_KEY

if TYPE_CHECKING:
    from gateway.http.router import GatewayRouter

__all__ = ["JsonFastPath"]

_OPTIONAL_OBJECT = (dict, type(None))
_OPTIONAL_STRING = (str, type(None))


class JsonFastPath:
    """Send `path`'s JSON POSTs of one operation to `router.run_json`; see the module."""

    def __init__(self, app: ASGIApp, *, path: str, router: GatewayRouter) -> None:
        self.app = app
        self.path = path
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_data = (
            _one_operation(scope.get(JSON_BODY_KEY)) if _is_json_post(scope, self.path) else None
        )
        if request_data is None:  # Strawberry's view judges (and maybe refuses) it
            await self.app(scope, receive, send)
            return
        response = await self.router.run_json(Request(scope, receive), request_data)
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


def _one_operation(payload: Any) -> GraphQLRequestData | None:
    """The operation in the body's JSON, or None for anything Strawberry's view would treat
    otherwise (no JSON object, a query, variables or extensions of the wrong type)."""
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
