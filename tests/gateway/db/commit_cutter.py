"""A TCP proxy in front of the test PostgreSQL that cuts a connection at its next COMMIT.

A real network fault at a chosen moment of the wire protocol, for the moments no SQL can
reach: just after PostgreSQL answered COMMIT (the transaction is saved, the client's next
round trip, the pool's reset, fails), before that answer reaches the client (saved, but the
client never hears it), or before COMMIT reaches the server (never saved; the client sent
it and hears nothing). Both sides of the cut connection are closed, as a dead network would.

Usage:

    async with CommitCutter.running(database_url) as cutter:
        pool = ... connect to cutter.url ...
        cutter.arm(Cut.BEFORE_ANSWER)   # the next COMMIT on any connection is cut
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

# The simple-protocol messages asyncpg's Transaction.commit() sends and gets back.
COMMIT_QUERY = b"Q\x00\x00\x00\x0cCOMMIT;\x00"
COMMIT_DONE = b"C\x00\x00\x00\x0bCOMMIT\x00"


class Cut(enum.Enum):
    """Where the next COMMIT's connection is cut."""

    AFTER_ANSWER = "after_answer"  # the client got COMMIT's answer; then the line dies
    BEFORE_ANSWER = "before_answer"  # the server committed; its answer is lost
    BEFORE_REQUEST = "before_request"  # COMMIT never reaches the server
    # A partition: COMMIT never arrives and the client's side dies, but the server's side
    # stays open (its backend idle in its transaction, locks held) until `heal()`.
    PARTITION = "partition"


class CommitCutter:
    """The proxy: forwards bytes both ways, and cuts the connection `arm()` picks."""

    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        query = parse_qs(parts.query)
        socket_dir = (query.get("host") or [parts.hostname or ""])[0]
        port = parts.port or int((query.get("port") or ["5432"])[0])
        # A unix socket (the embedded server's) or a TCP address (TEST_DATABASE_URL's).
        self._socket = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir.startswith("/") else None
        self._address = (socket_dir or "localhost", port)
        self._parts = parts._replace(
            query=urlencode(
                {k: v for k, v in query.items() if k not in ("host", "port")}, doseq=True
            )
        )
        self._server: asyncio.Server | None = None
        self._armed: Cut | None = None
        self._partitioned: list[asyncio.StreamWriter] = []
        self._open: set[asyncio.StreamWriter] = set()  # every side of every live connection
        self._serving: set[asyncio.Task[None]] = set()
        self.cuts = 0
        self.url = database_url

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, database_url: str) -> AsyncIterator[CommitCutter]:
        """The proxy for `database_url`, listening on a free local port; `.url` goes to it."""
        cutter = cls(database_url)
        cutter._server = await asyncio.start_server(cutter._serve, "127.0.0.1", 0)
        port = cutter._server.sockets[0].getsockname()[1]
        credentials = cutter._parts.netloc.rpartition("@")[0]
        cutter.url = urlunsplit(cutter._parts._replace(netloc=f"{credentials}@127.0.0.1:{port}"))
        try:
            yield cutter
        finally:
            cutter._server.close()
            await cutter._server.wait_closed()  # on 3.11 this does not wait for connections
            cutter.heal()
            for writer in list(cutter._open):
                writer.close()
            await asyncio.gather(*cutter._serving, return_exceptions=True)

    async def _open_server_side(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._socket is not None:
            return await asyncio.open_unix_connection(self._socket)
        return await asyncio.open_connection(*self._address)

    def arm(self, cut: Cut) -> None:
        """Cut the connection of the next COMMIT, at `cut`."""
        self._armed = cut

    def heal(self) -> None:
        """End the partition: close the server sides it kept open (their backends roll back)."""
        for writer in self._partitioned:
            self._close(writer)
        self._partitioned.clear()

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        self._open.add(client_out)
        try:
            server_in, server_out = await self._open_server_side()
        except OSError:
            self._close(client_out)
            self._serving.discard(task)
            return
        self._open.add(server_out)
        try:
            await self._forward(client_in, client_out, server_in, server_out)
        finally:
            if server_out not in self._partitioned:  # a partition stays open until heal()
                for writer in (client_out, server_out):
                    self._close(writer)
                for writer in (client_out, server_out):
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
            self._serving.discard(task)

    def _close(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        self._open.discard(writer)

    async def _forward(
        self,
        client_in: asyncio.StreamReader,
        client_out: asyncio.StreamWriter,
        server_in: asyncio.StreamReader,
        server_out: asyncio.StreamWriter,
    ) -> None:
        committing = asyncio.Event()  # this connection sent COMMIT while armed
        done = asyncio.Event()

        def cut() -> None:
            partition = self._armed is Cut.PARTITION
            self._armed = None
            self.cuts += 1
            client_out.close()
            if partition:
                self._partitioned.append(server_out)
            else:
                server_out.close()
            done.set()

        async def upstream() -> None:
            while data := await client_in.read(65536):
                if COMMIT_QUERY in data and self._armed is not None:
                    if self._armed in (Cut.BEFORE_REQUEST, Cut.PARTITION):
                        cut()
                        return
                    committing.set()
                server_out.write(data)
                await server_out.drain()
            done.set()

        async def downstream() -> None:
            while data := await server_in.read(65536):
                armed = self._armed
                if committing.is_set() and armed is not None and COMMIT_DONE in data:
                    if armed is Cut.AFTER_ANSWER:
                        client_out.write(data)
                        await client_out.drain()
                    cut()
                    return
                client_out.write(data)
                await client_out.drain()
            done.set()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        await done.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
