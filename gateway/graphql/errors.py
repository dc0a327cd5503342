"""The gateway's error tree; each class's `code` becomes the GraphQL error's `extensions.code`.

    GatewayError                 (INTERNAL_SERVER_ERROR, never shown: masked)
    ├── BadUserInput             BAD_USER_INPUT   the arguments are invalid
    ├── NotFound                 NOT_FOUND        a referenced record does not exist
    ├── Conflict                 CONFLICT         the change clashes with existing data
    ├── Timeout                  TIMEOUT          a statement ran past the statement timeout
    ├── ServiceUnavailable       SERVICE_UNAVAILABLE  the database is down or the pool is full
    ├── OutcomeUnknown           OUTCOME_UNKNOWN  a write's COMMIT got no answer: retry with its key
    └── ServiceConfigurationError                  services cannot be merged (startup only)

Errors a client can cause are raised as these classes, or come from the database as a
`gateway.db` error that `error_from_database_error` maps, once, to a code.
Everything else is masked as "Internal server error" with a correlation id.
"""

from __future__ import annotations

from typing import ClassVar

import asyncpg

from gateway.db import (
    CommitOutcomeUnknown,
    DatabaseConnectionError,
    PoolTimeoutError,
    QueryError,
)

__all__ = [
    "BadUserInput",
    "Conflict",
    "Forbidden",
    "GatewayError",
    "NotFound",
    "OutcomeUnknown",
    "ServiceConfigurationError",
    "ServiceUnavailable",
    "Timeout",
    "error_from_database_error",
]


class GatewayError(Exception):
    """Base of errors whose message is safe to show a client, with a stable `code`."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"


class BadUserInput(GatewayError):
    """Raised when an argument is invalid (malformed, out of range, unknown cursor)."""

    code = "BAD_USER_INPUT"


class NotFound(GatewayError):
    """Raised when an argument refers to a record that does not exist."""

    code = "NOT_FOUND"


class Forbidden(GatewayError):
    """Raised when the viewer may not see or do this (gateway.graphql.permissions)."""

    code = "FORBIDDEN"


class Conflict(GatewayError):
    """Raised when a change clashes with existing data (a duplicate unique value)."""

    code = "CONFLICT"


class Timeout(GatewayError):
    """Raised when a statement runs past the statement timeout and is cancelled."""

    code = "TIMEOUT"


class ServiceUnavailable(GatewayError):
    """Raised when the database is unreachable or no pooled connection frees up in time."""

    code = "SERVICE_UNAVAILABLE"


class OutcomeUnknown(GatewayError):
    """Raised when a write's COMMIT got no answer and what it did cannot be found out:
    retrying with the same idempotency key is safe, a retry without one may act twice."""

    code = "OUTCOME_UNKNOWN"


class ServiceConfigurationError(Exception):
    """Raised at startup when services cannot be merged into one schema or app."""


# SQLSTATEs a client can cause with bad input; everything else is our fault and masked.
_SQLSTATE_ERRORS: dict[str, tuple[type[GatewayError], str]] = {
    "23505": (Conflict, "A record with this value already exists."),
    "23503": (NotFound, "A record this change refers to does not exist."),
    "23514": (BadUserInput, "A value is outside the allowed range."),
    "23502": (BadUserInput, "A required value is missing."),
    "22P02": (BadUserInput, "A value has the wrong format."),
    "22001": (BadUserInput, "A value is too long."),
    "22003": (BadUserInput, "A number is out of range."),
    "22021": (BadUserInput, "A text value contains a character that cannot be stored."),
    "57014": (Timeout, "The request took too long and was cancelled; ask for less."),
    "55P03": (Timeout, "The data is busy (a lock wait timed out); retry shortly."),
    "53300": (ServiceUnavailable, "The database has no connection to spare; retry shortly."),
    "57P01": (ServiceUnavailable, "The database is restarting; retry shortly."),
    "57P02": (ServiceUnavailable, "The database is restarting; retry shortly."),
    "57P03": (ServiceUnavailable, "The database is starting up; retry shortly."),
}


def error_from_database_error(error: Exception) -> GatewayError | None:
    """The client-facing error for a database failure, mapped once here; None: mask it."""
    if isinstance(error, CommitOutcomeUnknown):
        return OutcomeUnknown(
            "The database connection was lost while the change was being saved; it may or "
            "may not be saved. Check before retrying."
        )
    if isinstance(error, (DatabaseConnectionError, PoolTimeoutError)):
        return ServiceUnavailable("The database is unavailable; retry shortly.")
    if isinstance(error, TimeoutError):  # asyncpg's client-side command timeout
        return Timeout("The request took too long and was cancelled; ask for less.")
    # QueryError outside a transaction; asyncpg's own exception inside one, or from COMMIT.
    if isinstance(error, (QueryError, asyncpg.PostgresError)):
        sqlstate = error.sqlstate
    else:
        return None
    mapped = _SQLSTATE_ERRORS.get(sqlstate or "")
    if mapped is None:
        return None
    cls, message = mapped
    return cls(message)
