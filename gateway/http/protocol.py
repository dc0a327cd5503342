"""The HTTP/1.1 protocol uvicorn serves with: its h11 protocol, plus a header timeout and a
connection limit. The one module that touches uvicorn's internals.

What uvicorn 0.55's `H11Protocol` does on its own: `timeout_keep_alive` (5 s) is armed only
once a response is complete, and cancelled by the first byte of the next request. A fresh
connection has no timer at all, and neither has a request head that is still arriving: a
client that sends half a header (or nothing) is held for ever, one file descriptor each.
`limit_concurrency` answers a plain-text 503 only once a whole head has arrived, so it does
nothing against such clients either.

This subclass adds, per connection:

- a header deadline: the request head must be complete within `header_timeout` seconds of
  the connection opening, or of the first byte of a later request on a kept-alive
  connection (a slow sender is not given more time per byte); else the connection is
  closed. Idle time between requests stays uvicorn's keep-alive timeout.
- a connection limit: past `max_connections` open connections, a new one makes room by
  closing the connection that has waited longest for a request (a slowloris head, an idle
  keep-alive), so that sockets held open without requests cannot lock real clients out. If
  every connection has a request in progress, the new one is answered with the coded 503
  (gateway.http.load_shedding.server_busy) as soon as its head arrives, and closed; past
  `max_connections + overflow` it is closed at once, so that descriptors never run out.

    protocol = GatewayH11Protocol.configured(header_timeout=10, max_connections=1000)
    uvicorn.Config(app, http=protocol)

`check_uvicorn_internals(config, protocol)` checks at startup that the internals used here
still mean what they meant in the tested version, and raises otherwise.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from gateway.http.load_shedding import server_busy

__all__ = ["GatewayH11Protocol", "check_uvicorn_internals", "protocol_problems"]

logger = logging.getLogger("gateway.http")


class GatewayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a connection limit (see module)."""

    header_timeout: float = 10.0
    max_connections: int = 1000
    overflow: int = 100
    # The connections with no request in progress, longest waiting first; one per
    # configured class (one server), set by `configured`.
    waiting: ClassVar[dict[GatewayH11Protocol, None]] = {}

    @classmethod
    def configured(
        cls, *, header_timeout: float, max_connections: int, overflow: int | None = None
    ) -> type[GatewayH11Protocol]:
        """A subclass with these bounds, for `uvicorn.Config(http=...)`.

        `overflow` (default a tenth of `max_connections`, at least 10) is how many more
        connections are kept just long enough to be answered SERVER_BUSY.
        """
        if header_timeout <= 0 or max_connections < 1:
            raise ValueError(
                "GATEWAY_HEADER_TIMEOUT must be positive and GATEWAY_MAX_CLIENT_CONNECTIONS at "
                f"least 1 (got {header_timeout} and {max_connections})."
            )
        bounds = {
            "header_timeout": header_timeout,
            "max_connections": max_connections,
            "overflow": max(10, max_connections // 10) if overflow is None else overflow,
            "waiting": {},
        }
        return type("ConfiguredGatewayH11Protocol", (cls,), bounds)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        open_connections = len(self.connections)  # this one included
        if open_connections > self.max_connections and not self._close_longest_waiting():
            if open_connections > self.max_connections + self.overflow:
                logger.warning(
                    "Closed a new connection at once: %d are open, each with a request in "
                    "progress (GATEWAY_MAX_CLIENT_CONNECTIONS is %d).",
                    open_connections - 1,
                    self.max_connections,
                )
                self.transport.close()
                return
            # uvicorn runs the request with `self.app`: this connection's is the refusal.
            self.app = server_busy
            logger.warning(
                "A new connection will be answered SERVER_BUSY: %d are open, each with a "
                "request in progress (GATEWAY_MAX_CLIENT_CONNECTIONS is %d).",
                open_connections - 1,
                self.max_connections,
            )
        self.waiting[self] = None
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()  # the first byte of a request starts its clock
        super().data_received(data)
        self._settle()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request whose head is only partly there starts its clock now.
        if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            self._arm_header_deadline()
        self._settle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        self.waiting.pop(self, None)
        super().connection_lost(exc)

    def _settle(self) -> None:
        # IDLE: waiting for (the rest of) a request head. Past IDLE, h11 has parsed one: the
        # deadline is met and the connection is busy until its response is complete.
        if self.conn.their_state is h11.IDLE:
            self.waiting.setdefault(self, None)
        else:
            self._cancel_header_deadline()
            self.waiting.pop(self, None)

    def _close_longest_waiting(self) -> bool:
        """Close the connection that has waited longest for a request; False if none."""
        for other in self.waiting:
            if other is not self and not other.transport.is_closing():
                break
        else:
            return False
        del self.waiting[other]
        logger.warning(
            "Closed the connection that had waited longest for a request, to admit a new one "
            "(GATEWAY_MAX_CLIENT_CONNECTIONS is %d).",
            self.max_connections,
        )
        other.transport.close()
        return True

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None and not self.transport.is_closing():
            self._header_deadline = self.loop.call_later(
                self.header_timeout, self._header_deadline_passed
            )

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_deadline_passed(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        logger.warning(
            "Closed a connection whose request head was not complete within %gs "
            "(GATEWAY_HEADER_TIMEOUT).",
            self.header_timeout,
        )
        self.transport.close()


def protocol_problems() -> list[str]:
    """What of uvicorn's h11 protocol class no longer looks as this module assumes (the
    parts that need no running server; gateway.compat reports them at startup)."""
    problems = []
    for hook in ("connection_made", "connection_lost", "data_received", "on_response_complete"):
        if not callable(getattr(H11Protocol, hook, None)):
            problems.append(f"H11Protocol.{hook} is gone")
    if "app = self.app" not in inspect.getsource(H11Protocol.handle_events):
        problems.append("H11Protocol.handle_events no longer runs the request with self.app")
    if not hasattr(h11.Connection, "trailing_data"):
        problems.append("h11.Connection.trailing_data is gone")
    return problems


def check_uvicorn_internals(config: Config, protocol: type[GatewayH11Protocol]) -> None:
    """Raise RuntimeError unless uvicorn's h11 protocol still works as this module assumes.

    `config` must be loaded (`config.load()`). Checked: the request is run with the
    instance's `app` attribute, `conn` is the connection's h11 state, `connections` the
    server's set of open connections, and the hooks overridden here exist.
    """
    problems = protocol_problems()
    state = ServerState()
    loop = asyncio.new_event_loop()  # the protocol wants one; nothing runs on it
    try:
        instance = protocol(config=config, server_state=state, app_state={}, _loop=loop)
    finally:
        loop.close()
    if instance.app is not config.loaded_app:
        problems.append("H11Protocol.app is not the application it serves")
    if not isinstance(instance.conn, h11.Connection):
        problems.append("H11Protocol.conn is not the connection's h11.Connection")
    if instance.connections is not state.connections:
        problems.append("H11Protocol.connections is not the server's set of connections")
    if problems:
        raise RuntimeError(
            "gateway.http.protocol does not fit this uvicorn "
            f"({'; '.join(problems)}): the header timeout and connection limit would not "
            "work. Install the uvicorn version pinned in pyproject.toml."
        )
