"""A graphql-transport-ws client on the `websockets` package, for tests: the protocol as the
npm graphql-ws client speaks it (connection_init with the token, subscribe, next, error,
complete, ping/pong)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"
WAIT_S = 15.0  # for one message; a bound, not a performance check


class GraphQLWebSocket:
    """One open, acknowledged graphql-transport-ws connection."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = 0

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next message other than a ping (answered with a pong)."""
        while True:
            raw = await asyncio.wait_for(self.connection.recv(), timeout)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, query: str, variables: Mapping[str, Any] | None = None) -> str:
        """Start `query`; returns its operation id."""
        self._ids += 1
        operation = str(self._ids)
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        await self.send({"id": operation, "type": "subscribe", "payload": payload})
        return operation

    async def complete(self, operation: str) -> None:
        await self.send({"id": operation, "type": "complete"})


@asynccontextmanager
async def graphql_ws(
    url: str,
    *,
    token: str | None = None,
    origin: str | None = None,
    init: Mapping[str, Any] | None = None,
) -> AsyncIterator[GraphQLWebSocket]:
    """Open `url`, send connection_init (with `Authorization: Bearer <token>`), and yield the
    connection once acknowledged; AssertionError if it is not."""
    headers = {"Origin": origin} if origin else None
    async with connect(
        url,
        subprotocols=[PROTOCOL],
        additional_headers=headers,
        open_timeout=WAIT_S,  # type: ignore[list-item]
    ) as connection:
        client = GraphQLWebSocket(connection)
        payload = dict(init or {})
        if token is not None:
            payload["Authorization"] = f"Bearer {token}"
        await client.send({"type": "connection_init", "payload": payload})
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        yield client
