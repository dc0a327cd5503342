"""One structured log line per GraphQL request, and the request's correlation id.

Every request gets one correlation id: it is returned in the `x-correlation-id` response
header, written in the request's log line, and given to any masked error of the request (see
`gateway.graphql.error_codes`), so a client's report finds the server's log lines. The line is JSON,
on logger `gateway.request` at INFO:

    {"event": "graphql_request", "correlation_id": "9f...", "operation": "UserOrders",
     "status": 200, "duration_ms": 12.4, "statements": 3, "error_codes": []}
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field

__all__ = [
    "CORRELATION_HEADER",
    "RequestRecord",
    "current_correlation_id",
    "current_request",
    "log_request",
    "request_scope",
]

logger = logging.getLogger("gateway.request")

CORRELATION_HEADER = "x-correlation-id"
# An operation name is the client's text: the line keeps a bounded prefix of it.
_MAX_LOGGED_NAME = 128

_current: ContextVar[RequestRecord | None] = ContextVar("gateway_request", default=None)


@dataclass
class RequestRecord:
    """What one GraphQL request did; filled in while it runs, logged when it ends."""

    correlation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    operation: str | None = None  # the request's operationName, as sent
    persisted_hash: str | None = None  # extensions.persistedQuery.sha256Hash, when sent
    status: int = 200
    duration_ms: float = 0.0
    statements: int = 0
    error_codes: list[str] = field(default_factory=list)
    executed: bool = False  # False for a GraphiQL page: nothing to measure
    reached_execution: bool = False  # past parse, validation, limits and variables


@contextmanager
def request_scope() -> Iterator[RequestRecord]:
    """Make a new request's record (and its correlation id) current in this context."""
    record = RequestRecord()
    token = _current.set(record)
    try:
        yield record
    finally:
        _current.reset(token)


def current_request() -> RequestRecord | None:
    """The record of the request this code runs for, if any."""
    return _current.get()


def current_correlation_id() -> str | None:
    """The correlation id of the request this code runs for, if any."""
    record = _current.get()
    return record.correlation_id if record is not None else None


def log_request(record: RequestRecord) -> None:
    """Write `record` as one JSON line on logger `gateway.request`."""
    if not logger.isEnabledFor(logging.INFO):
        return
    fields = asdict(record)
    del fields["executed"], fields["reached_execution"]
    if record.operation is not None:
        fields["operation"] = record.operation[:_MAX_LOGGED_NAME]
    fields["duration_ms"] = round(record.duration_ms, 2)
    logger.info(json.dumps({"event": "graphql_request", **fields}), extra={"request": fields})
