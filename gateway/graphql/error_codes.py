"""A schema extension that gives every GraphQL error a stable `extensions.code`.

Client-caused errors keep their message; anything unexpected is masked as
"Internal server error" with a correlation id, and logged with that id and the stack, so no
SQL, table name or traceback reaches a client. With `hide_suggestions` (production), every
message loses graphql-core's hints at the schema ("Did you mean 'userId'?"), wherever they sit:
validation, argument and variable coercion, input-object fields and enum values alike.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.graphql.errors import GatewayError, error_from_database_error
from gateway.http.request_log import current_correlation_id
from gateway.limits.rules import TOKEN_LIMIT_MESSAGE

__all__ = ["ErrorCodes", "classify", "without_suggestions"]

logger = logging.getLogger("gateway.graphql.errors")

INTERNAL_MESSAGE = "Internal server error"
# graphql-core's hints (graphql.pyutils.did_you_mean: " Did you mean " + an optional phrase
# such as "the enum value" + quoted names joined as "'a', 'b', or 'c'" + "?") tell a prober
# which fields, arguments, types and enum values the schema holds. graphql-core could omit
# them itself (`hide_suggestions`), but Strawberry calls its validate() and execute() without
# that option, so they are cut from the finished messages. tests/gateway/test_error_codes.py
# checks this pattern against graphql-core's own did_you_mean and every message that uses it.
_QUOTED_NAME = r"'[_A-Za-z][_0-9A-Za-z]*'"
_SUGGESTION = re.compile(
    rf" Did you mean (?:[a-z][a-z ]* )?{_QUOTED_NAME}(?:(?:,|,? or) {_QUOTED_NAME})*\?"
)


def without_suggestions(message: str) -> str:
    """`message` without graphql-core's "Did you mean ...?" hints, wherever they are.

    Usage: `without_suggestions("Cannot query field 'usr' on type 'Query'. Did you mean
    'user'?")` is "Cannot query field 'usr' on type 'Query'."
    """
    return _SUGGESTION.sub("", message)


def classify(error: GraphQLError, *, hide_suggestions: bool = False) -> GraphQLError:
    """`error` with a code, or its masked replacement; `hide_suggestions` cuts the hints."""
    classified = _classified(error)
    if hide_suggestions:
        classified.message = without_suggestions(classified.message)
    return classified


def _classified(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:
        if error.extensions and "code" in error.extensions:
            return error  # raised with its code (operation limits)
        message = error.message
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
