"""A schema extension that gives every GraphQL error a stable `extensions.code`.

Client-caused errors keep their message; anything unexpected is masked as
"Internal server error" with a correlation id, and logged with that id and the stack, so no
SQL, table name or traceback reaches a client.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.errors import GatewayError, error_from_database_error
from gateway.limits import TOKEN_LIMIT_MESSAGE
from gateway.request_log import current_correlation_id

__all__ = ["ErrorCodes", "classify"]

logger = logging.getLogger("gateway.errors")

INTERNAL_MESSAGE = "Internal server error"
# graphql-core's hint at field names, which tells a prober what the schema holds.
_SUGGESTION = re.compile(r" Did you mean .*\?$")


def classify(error: GraphQLError, *, hide_suggestions: bool = False) -> GraphQLError:
    """`error` with a code, or its masked replacement."""
    original = error.original_error
    if original is None:
        if error.extensions and "code" in error.extensions:
            return error  # raised with its code (operation limits)
        message = _SUGGESTION.sub("", error.message) if hide_suggestions else error.message
        if TOKEN_LIMIT_MESSAGE in message:
            code = "TOO_MANY_TOKENS"
        elif "Syntax Error" in message:
            code = "GRAPHQL_PARSE_FAILED"
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        return _with(error, message, {"code": code})
    if mapped := error_from_database_error(original):
        original = mapped
    if isinstance(original, GatewayError):
        return _with(error, str(original), {"code": original.code})
    if error.path is None:
        # Raised while coercing the request's arguments and variables (a Decimal that does not
        # parse, say), before any resolver ran: the client's input is at fault.
        return _with(error, error.message, {"code": "BAD_USER_INPUT"})
    correlation_id = current_correlation_id() or uuid.uuid4().hex  # the request's, if any
    logger.error(
        "Unexpected error %s at %s",
        correlation_id,
        ".".join(str(p) for p in error.path or ()),
        exc_info=original,
    )
    return _with(
        error, INTERNAL_MESSAGE, {"code": "INTERNAL_SERVER_ERROR", "correlationId": correlation_id}
    )


def _with(error: GraphQLError, message: str, extensions: dict[str, str]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), **extensions},
    )


class ErrorCodes(SchemaExtension):
    """Classify every error of an operation's result (see `classify`)."""

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [
                classify(error, hide_suggestions=self.hide_suggestions) for error in result.errors
            ]
