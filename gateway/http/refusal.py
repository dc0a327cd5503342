"""Refusal: a request turned away with one GraphQL error, whichever layer turns it away.

Every refusal of the HTTP edge is a `Refusal` (a status, a stable `extensions.code`, a
message, headers) from where it is decided to where it is answered, and `send_refusal` /
`refusal_response` are the one renderer:

    HTTP/1.1 413 Payload Too Large
    content-type: application/json

    {"data": null, "errors": [{"message": "...", "extensions": {"code": "REQUEST_TOO_LARGE"}}]}

in the media type the request negotiated (gateway.http.media_types): without `data` in
application/graphql-response+json.

The request checks (gateway.http.request_guard) raise one; Strawberry's HTTP view raises its
own HTTPException, which `refusal_from` turns into one by the type of its cause (a mutation
over GET, an unknown operation name, no query) and by its status otherwise, never by its
message text.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from cross_web import HTTPException
from starlette.responses import Response
from starlette.types import Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from gateway.http.media_types import GRAPHQL_RESPONSE, JSON

__all__ = ["Refusal", "error_body", "refusal_from", "refusal_response", "send_refusal"]

# The code of a refusal whose cause tells nothing more than its status.
_STATUS_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class Refusal(Exception):
    """A request answered with `status` and one GraphQL error coded `code`.

    `headers` go with the answer (`allow`, `retry-after`, ...); `close` closes the
    connection after it (a client that cannot be trusted to send its next request).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = tuple(headers)
        self.close = close

    def __repr__(self) -> str:
        return f"Refusal({self.status}, {self.code!r}, {self.message!r})"


def error_body(code: str, message: str, media_type: str = JSON) -> bytes:
    """The JSON of a response that is one GraphQL error and no data: `"data": null` in
    application/json, no `data` at all in application/graphql-response+json (nothing was
    executed)."""
    errors = [{"message": message, "extensions": {"code": code}}]
    if media_type == GRAPHQL_RESPONSE:
        return orjson.dumps({"errors": errors})
    return orjson.dumps({"data": None, "errors": errors})


def _raw_headers(refusal: Refusal, body: bytes, media_type: str) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers.extend(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in refusal.headers
    )
    if refusal.close:
        headers.append((b"connection", b"close"))
    return headers


async def send_refusal(send: Send, refusal: Refusal, media_type: str = JSON) -> None:
    """Answer with `refusal` through an ASGI `send` (a middleware, before any app answered),
    in `media_type` (gateway.http.media_types)."""
    body = error_body(refusal.code, refusal.message, media_type)
    headers = _raw_headers(refusal, body, media_type)
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def refusal_response(refusal: Refusal, media_type: str = JSON) -> Response:
    """`refusal` as a Starlette response (a route's answer), in `media_type`."""
    body = error_body(refusal.code, refusal.message, media_type)
    response = Response(body, status_code=refusal.status)
    response.raw_headers = _raw_headers(refusal, body, media_type)
    return response


def refusal_from(error: HTTPException) -> Refusal:
    """The Refusal for a refusal of Strawberry's HTTP view, coded by its cause's type."""
    cause = error.__cause__
    if isinstance(cause, InvalidOperationTypeError) and cause.operation_type is (
        OperationType.MUTATION
    ):
        return Refusal(405, "MUTATION_OVER_GET", error.reason, headers=[("allow", "POST")])
    if isinstance(cause, CannotGetOperationTypeError) and cause.operation_name is not None:
        return Refusal(400, "UNKNOWN_OPERATION_NAME", error.reason)
    if isinstance(cause, MissingQueryError):
        return Refusal(400, "MISSING_QUERY", error.reason)
    status = error.status_code if 400 <= error.status_code < 500 else 400
    return Refusal(status, _STATUS_CODES.get(status, "BAD_REQUEST"), error.reason)
