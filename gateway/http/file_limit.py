"""The process's open-file limit, and the connection limit that keeps clients below it.

Every client connection is a file descriptor. At the default soft limit (often 1,024), a
thousand idle sockets would leave none for the database pool, the health connection or a
log file, and accept() itself would fail (EMFILE) for every new client. At startup the soft
limit is raised to the hard limit, and the client connection limit is lowered, if need be,
so that `reserved` descriptors always stay free for the process itself.

    bounds = client_connection_bounds(1000, raise_open_file_limit(), reserved=100)
"""

from __future__ import annotations

import logging
import resource
from typing import NamedTuple

__all__ = [
    "MAX_ACCEPT_BATCH",
    "ConnectionBounds",
    "client_connection_bounds",
    "raise_open_file_limit",
]

MAX_ACCEPT_BATCH = 2048  # uvicorn's default backlog

logger = logging.getLogger("gateway.http.file_limit")


def raise_open_file_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to its hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard or hard == resource.RLIM_INFINITY:  # Linux caps descriptors anyway
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as error:  # a sandbox may refuse even this
        logger.warning("Could not raise the open-file limit from %d to %d: %s", soft, hard, error)
        return soft
    return hard


class ConnectionBounds(NamedTuple):
    """Client connections the server keeps, answers SERVER_BUSY, and accepts per loop turn."""

    limit: int
    overflow: int
    accept_batch: int  # the listening socket's backlog: asyncio accepts up to it at once


def client_connection_bounds(requested: int, file_limit: int, *, reserved: int) -> ConnectionBounds:
    """The connection limit and overflow (gateway.http.protocol) for `requested` client
    connections under `file_limit` descriptors, `reserved` of them set aside for the process,
    and the accept batch that keeps a burst of new connections below what is left.

    asyncio accepts up to the server's backlog of sockets in one turn of the event loop, and
    a socket past the limit is closed only turns later, once its protocol has started: room
    for two batches stays free beyond limit and overflow, so accept() never meets the file
    limit (EMFILE). `requested` is lowered (with a warning) when the file limit leaves less.
    The overflow, the connections kept only long enough to be answered SERVER_BUSY, is a
    tenth of the limit, at least 10.
    """
    usable = max(4, file_limit - reserved)
    accept_batch = min(MAX_ACCEPT_BATCH, max(1, usable // 10))
    room = max(2, usable - 2 * accept_batch)
    limit = min(requested, max(1, room * 10 // 11))
    overflow = max(1, min(max(10, limit // 10), room - limit))
    if limit < requested:
        logger.warning(
            "GATEWAY_MAX_CLIENT_CONNECTIONS is %d but the open-file limit is %d: at most %d "
            "client connections (%d descriptors kept for the pool and the process). Raise the "
            "hard limit (ulimit -Hn, LimitNOFILE=) to allow more.",
            requested,
            file_limit,
            limit,
            reserved,
        )
    return ConnectionBounds(limit, overflow, accept_batch)
