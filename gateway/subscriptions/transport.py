"""graphql-transport-ws as the gateway speaks it: Strawberry's handler, with each subscribe
message's document resolved as an HTTP request's is (gateway.http.persisted). In allowlist
mode a document the manifest does not hold is refused over a WebSocket too, with the code it
gets over HTTP; a hash alone runs the manifest's (or, with APQ, a registered) document."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from gateway.http.persisted import PersistedQueries, PersistedQueryError

__all__ = ["GatewayTransportWSHandler"]


class GatewayTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Resolves the document of every `subscribe` before Strawberry runs it."""

    async def handle_subscribe(self, message: Any) -> None:
        persisted: PersistedQueries | None = getattr(
            getattr(self.view, "state", None), "persisted", None
        )
        payload = message.get("payload")
        if persisted is None or not self.connection_acknowledged or not isinstance(payload, dict):
            await super().handle_subscribe(message)  # refused there as the protocol says
            return
        try:
            resolved = await persisted.resolve(payload.get("query"), payload.get("extensions"))
        except PersistedQueryError as error:
            refusal = GraphQLError(str(error), extensions={"code": error.code})
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [refusal.formatted]}
            )
            return
        rewritten: Any = {**message, "payload": {**payload, "query": resolved.query}}
        await super().handle_subscribe(rewritten)
