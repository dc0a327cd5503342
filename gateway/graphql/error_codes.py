"""A schema extension that gives every GraphQL error a stable `extensions.code`.

Client-caused errors keep their message; anything unexpected is masked as
"Internal server error" with a correlation id, and logged with that id and the stack, so no
SQL, table name or traceback reaches a client. With `hide_suggestions` (production), every
message loses graphql-core's hints at the schema ("Did you mean 'userId'?"), wherever they sit:
validation, argument and variable coercion, input-object fields and enum values alike.

Codes come from what an error is and where it arose, never from its message:

    raised with extensions.code      kept (the operation limits, TOO_MANY_TOKENS, field
                                     merging's VALIDATION_TOO_COMPLEX, the execution budget)
    GraphQLSyntaxError               GRAPHQL_PARSE_FAILED
    reported by validation           GRAPHQL_VALIDATION_FAILED, set as validation returns
                                     them (gateway.execution.validation_cache)
    any other error without cause    GRAPHQL_VALIDATION_FAILED (a refusal of graphql-core's
                                     before execution that no step above coded)
    a GatewayError, or a database    its `code` (gateway.graphql.errors)
    error mapped to one
    any other error before a field   BAD_USER_INPUT (variables or arguments that do not
                                     coerce, a scalar's parser refusing a value)
    any other error in a field       INTERNAL_SERVER_ERROR, masked, logged with its id
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from gateway.graphql.errors import GatewayError, error_from_database_error
from gateway.http.request_log import current_correlation_id

__all__ = [
    "INTERNAL_SERVER_ERROR",
    "PARSE_FAILED",
    "VALIDATION_FAILED",
    "ErrorCodes",
    "classify",
    "mark_validation_errors",
    "without_suggestions",
]

logger = logging.getLogger("gateway.graphql.errors")

INTERNAL_MESSAGE = "Internal server error"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
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
        if _code_of(error) is not None:
            return error  # raised or reported with its code
        # graphql-core's own refusal of the request, before execution: a syntax error, or
        # (coded at validation already, so only a safety net) an uncoded validation error.
        code = PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else VALIDATION_FAILED
        return _with(error, error.message, {"code": code})
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
        error, INTERNAL_MESSAGE, {"code": INTERNAL_SERVER_ERROR, "correlationId": correlation_id}
    )


def _code_of(error: GraphQLError) -> object:
    return (error.extensions or {}).get("code")


def mark_validation_errors(errors: list[GraphQLError] | None) -> None:
    """Give each of `errors`, as validation returned them, GRAPHQL_VALIDATION_FAILED unless
    it carries a code of its own (field merging's VALIDATION_TOO_COMPLEX keeps that)."""
    for error in errors or ():
        if _code_of(error) is None:
            error.extensions = {**(error.extensions or {}), "code": VALIDATION_FAILED}


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
        self._classify(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Each result of a subscription (its refusal, an EVENTS_MISSED) is classified as it
        # goes out, as an operation's result is.
        self._classify(result)
        yield

    def _classify(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [
                classify(error, hide_suggestions=self.hide_suggestions) for error in errors
            ]
