"""The subscription load's clients: graphql-transport-ws connections on the `websockets` package.

    connection = Connection(index, token, subscriptions)
    await connection.open(url)  # signed in, every subscription sent, a task reading it
    ...
    await connection.close()

Each connection signs in with its owner's bearer token (connection_init), sends its
subscriptions, and hands every `next` to its Subscription with `time.time()` at receipt;
errors, completions, messages for no subscription and a close by the server are kept for the
checks (benchmarks.subscription_plan).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from benchmarks.subscription_plan import Subscription

__all__ = ["PROTOCOL", "Connection"]

PROTOCOL = Subprotocol("graphql-transport-ws")


class Connection:
    """One graphql-transport-ws connection and its subscriptions; a task reads it."""

    def __init__(self, index: int, token: str, subscriptions: list[Subscription]) -> None:
        self.index = index
        self.token = token
        self.subscriptions = {s.operation: s for s in subscriptions}
        self.stray: list[Any] = []
        self.closed_by_server: str | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = False

    async def open(self, url: str) -> None:
        ws = await connect(
            url, subprotocols=[PROTOCOL], open_timeout=30, proxy=None, max_queue=None
        )
        self._ws = ws
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}}
        await ws.send(json.dumps(init))
        while True:
            ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if ack.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"Connection {self.index}: no connection_ack but {ack}")
            break
        self._reader = asyncio.create_task(self._read(ws), name=f"connection {self.index}")
        for subscription in self.subscriptions.values():
            await ws.send(json.dumps(subscription.message()))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                received_at = time.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                    continue
                subscription = self.subscriptions.get(message.get("id"))
                if kind == "pong":
                    continue
                if subscription is None:
                    self.stray.append(message)
                elif kind == "next":
                    subscription.take(message.get("payload") or {}, received_at)
                elif kind == "error":
                    subscription.refusals.append(message.get("payload"))
                elif kind == "complete":
                    subscription.completed = True
                else:
                    self.stray.append(message)
        except ConnectionClosed:
            pass
        if not self._closing:
            self.closed_by_server = f"code {ws.close_code} {ws.close_reason!r}"

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader
