"""GatewayRouter: Strawberry's FastAPI router, plus what every /graphql request goes through.

    request ── correlation id, pool usage check
      └─ persisted query lookup (gateway.http.persisted) ── refused: a GraphQL error with its code
           └─ Strawberry executes it (SQL statements counted, dataloader batches observed)
    response ── x-correlation-id header; metrics (gateway.metrics); one log line
                (gateway.http.request_log)

A refusal of Strawberry's view (a mutation over GET, an unknown operation name, ...) is
answered as every refusal is (gateway.http.refusal), logged and counted with its code.

    state = RouterState.from_settings(settings, pool=lambda: app.state.pool)
    graphql = GatewayRouter(schema, context_getter=get_context, state=state)
    app.include_router(graphql, prefix="/graphql")
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from graphql import GraphQLError
from starlette.background import BackgroundTasks
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from gateway.compat import handle_errors
from gateway.db import StatementRecorder, count_statements
from gateway.db.pool_watch import PoolUsageWatch
from gateway.db.releases import releasing_in_background
from gateway.execution.budget import ResponseTooLarge
from gateway.graphql.batching import observing_batches
from gateway.http.json_depth import loads_within_depth
from gateway.http.media_types import GRAPHQL_RESPONSE, JSON, media_type_of
from gateway.http.persisted import PersistedQueries, PersistedQueryError
from gateway.http.refusal import error_body, refusal_from, refusal_response
from gateway.http.request_log import (
    CORRELATION_HEADER,
    RequestRecord,
    current_request,
    log_request,
    request_scope,
)
from gateway.identity.tokens import TokenRejected
from gateway.metrics import GatewayMetrics
from gateway.subscriptions.transport import GatewayTransportWSHandler

if TYPE_CHECKING:
    from strawberry.schema import BaseSchema

    from gateway.settings import Settings

__all__ = ["GatewayRouter", "RouterState"]

# Automatic persisted queries' own answers stay 200: a client's persisted-queries link (Apollo,
# urql) sends the document next, and reads a 400 as "this server has no persisted queries".
_SENT_AGAIN_WITH_ITS_DOCUMENT = frozenset({"PERSISTED_QUERY_NOT_FOUND"})


@dataclass(frozen=True)
class RouterState:
    """The per-app parts GatewayRouter uses: persisted queries, metrics, the pool watch."""

    persisted: PersistedQueries
    metrics: GatewayMetrics
    pool_watch: PoolUsageWatch

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        pool: Callable[[], Any],
        subscriptions: Callable[[], tuple[Any, int]] = lambda: (None, 0),
    ) -> RouterState:
        """The state for an app whose pool `pool()` returns (None before startup), and whose
        event hub and open WebSockets `subscriptions()` returns.

        Reads the persisted-documents manifest now (ValueError if it is broken).
        """
        persisted = PersistedQueries.from_settings(settings)
        return cls(
            persisted=persisted,
            metrics=GatewayMetrics(
                pool=pool,
                known_operations=persisted.operation_names(),
                subscriptions=subscriptions,
            ),
            pool_watch=PoolUsageWatch(interval=settings.pool_warning_interval),
        )


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's WebSocket adapter, sending text frames: graphql-transport-ws messages are
    text, and a client (graphql-ws) refuses a binary one. Our encode_json gives bytes (for
    HTTP, where they go out as they are)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class GatewayRouter(GraphQLRouter[Any, None]):
    """GraphQLRouter that runs persisted queries and measures and logs every request.

    `run_json` answers the common request, a POST of one operation as JSON, without
    Strawberry's HTTP view (gateway.http.json_fast_path sends those to it); the rest go through the
    view as usual.
    """

    websocket_adapter_class = TextWebSocketAdapter
    graphql_transport_ws_handler_class = GatewayTransportWSHandler

    def __init__(
        self,
        schema: BaseSchema,
        *,
        context_getter: Callable[[Request], Awaitable[Any]],
        state: RouterState,
        max_response_bytes: int | None = None,
        authenticate_websocket: Callable[[Any], Awaitable[None]] | None = None,
        max_websockets: int | None = None,
        **options: Any,
    ) -> None:
        """`max_response_bytes`: a larger JSON answer is replaced by RESPONSE_TOO_LARGE.
        `authenticate_websocket(context)`: verifies a WebSocket's connection_init payload
        (`context.connection_params`) and makes the context its viewer's, raising
        TokenRejected to refuse the connection. `max_websockets`: open WebSockets at once;
        past it an upgrade is refused."""
        super().__init__(schema, context_getter=context_getter, **options)
        self._context_factory = context_getter
        self.state = state
        self._max_response_bytes = max_response_bytes
        self._authenticate_websocket = authenticate_websocket
        self._max_websockets = max_websockets
        self.open_websockets = 0

    async def on_ws_connect(self, context: Any) -> None:
        # connection_init: the token travels in its payload (browsers cannot set headers on
        # a WebSocket) and is verified as an HTTP request's Authorization header is.
        if self._authenticate_websocket is None:
            return
        try:
            await self._authenticate_websocket(context)
        except TokenRejected as error:
            # Closed with 4403, as graphql-transport-ws closes a refused connection_init.
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": str(error)}
            ) from None

    def decode_json(self, data: str | bytes) -> object:
        # Bounded nesting: json.loads would raise RecursionError (a 500) on a thousand `[`.
        # RequestGuard refuses those first, with JSON_TOO_DEEP; this holds without it.
        return loads_within_depth(data)

    def encode_json(self, data: object) -> bytes:
        # orjson: several times faster than json.dumps on large answers; Decimal and datetime
        # are already strings here (Strawberry serialised the scalars).
        body = orjson.dumps(data)
        if self._max_response_bytes is not None and len(body) > self._max_response_bytes:
            return self._too_large(len(body))
        return body

    def _too_large(self, size: int) -> bytes:
        """The answer sent instead of one of `size` bytes, past max_response_bytes. The
        value cap (gateway.execution.budget) keeps what was serialised first small."""
        error = ResponseTooLarge(
            f"The answer is {size} bytes, more than the {self._max_response_bytes} allowed; "
            "ask for less (smaller pages, fewer nested lists)."
        )
        record = current_request()
        if record is not None:
            record.error_codes[:] = [error.code]  # what the client gets, logged and counted
        return error_body(error.code, str(error))

    @overload
    async def run(
        self, request: Request, context: Any = UNSET, root_value: None = UNSET
    ) -> Response: ...

    @overload
    async def run(
        self, request: WebSocket, context: Any = UNSET, root_value: None = UNSET
    ) -> WebSocket: ...

    async def run(
        self, request: Request | WebSocket, context: Any = UNSET, root_value: None = UNSET
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await self._run_websocket(request, context, root_value)
        strawberry_run = super().run
        return await self._measured(request, lambda: strawberry_run(request, context, root_value))

    async def _run_websocket(
        self, websocket: WebSocket, context: Any, root_value: None
    ) -> WebSocket:
        if self._max_websockets is not None and self.open_websockets >= self._max_websockets:
            # Before accepting: the client sees the upgrade refused (HTTP 403) and may retry.
            self.state.metrics.observe_refusal("TOO_MANY_WEBSOCKETS", 0.0)
            await websocket.close(code=1013, reason="Too many connections; retry later")
            return websocket
        self.open_websockets += 1
        try:
            return await super().run(websocket, context, root_value)
        finally:
            self.open_websockets -= 1

    async def run_json(self, request: Request, request_data: GraphQLRequestData) -> Response:
        """Answer a POST whose JSON body is one operation (`request_data`, already parsed)
        as `run` would, without Strawberry's HTTP view: the context, execution, result and
        response steps that such a request takes through it, and nothing else.

        The context getter is called as `await context_getter(request)`. A refused operation
        is answered as `run` answers it.
        """

        async def respond() -> Response:
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]  # as FastAPI does
            background_tasks = BackgroundTasks()
            context = await self._context_factory(request)
            if isinstance(context, BaseContext):
                context.request = request
                context.background_tasks = background_tasks
                context.response = sub_response
            result = await self.execute_single(
                request,
                StarletteRequestAdapter(request),
                sub_response,
                context,
                None,
                request_data,
            )
            response_data = await self.process_result(request, result)
            if result.errors:
                handle_errors(self, result.errors, response_data)
            response = self.create_response(response_data, sub_response)
            response.background = background_tasks
            return response

        return await self._measured(request, respond)

    async def _measured(
        self, request: Request, respond: Callable[[], Awaitable[Response]]
    ) -> Response:
        """`respond()` inside the request's scope (correlation id, statements counted,
        batches observed, connections released in the background), then measured and logged."""
        state = self.state
        media_type = media_type_of(request.scope)
        pool = getattr(request.app.state, "pool", None)
        if pool is not None:
            state.pool_watch.check(pool)
        started = time.perf_counter()
        with request_scope() as record, count_statements() as statements:
            try:
                with observing_batches(state.metrics.observe_batch):
                    async with releasing_in_background():
                        response = await respond()
            except HTTPException as error:  # Strawberry's view refused the request
                refusal = refusal_from(error)
                record.error_codes.append(refusal.code)
                response = refusal_response(refusal, media_type)
            except BaseException:
                record.status = 500  # cancelled, or a bug: no awaiting on the way out
                _finish(record, started, statements, state)
                raise
        if media_type == GRAPHQL_RESPONSE:
            response = _as_graphql_response(response, record)
        duration = time.perf_counter() - started
        record.status = response.status_code
        await asyncio.sleep(0)  # asyncpg reports statements on the next loop iteration
        _finish(record, started, statements, state, duration=duration)
        response.headers[CORRELATION_HEADER] = record.correlation_id
        return response

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Any,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        state = self.state
        record = current_request()
        if record is not None:
            _describe(record, request_data)
        try:
            resolved = await state.persisted.resolve(request_data.query, request_data.extensions)
        except PersistedQueryError as error:
            result = ExecutionResult(
                data=None, errors=[GraphQLError(str(error), extensions={"code": error.code})]
            )
        else:
            result = await super().execute_single(
                request,
                request_adapter,
                sub_response,
                context,
                root_value,
                dataclasses.replace(request_data, query=resolved.query),
            )
            # Only a document that got as far as execution is registered, and only then may
            # its operationName become a metrics label: a bad one stays out of both.
            reached_execution = _reached_execution(result)
            if resolved.register_as and resolved.query is not None and reached_execution:
                await state.persisted.register(resolved.register_as, resolved.query)
            if record is not None:
                record.reached_execution = reached_execution
        if record is not None:
            record.error_codes.extend(_codes(result))
        return result

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET that names a persisted query by hash has no `query` parameter, like a browser
        # opening GraphiQL; its `extensions` parameter tells them apart.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )


def _as_graphql_response(response: Response, record: RequestRecord) -> Response:
    """`response` (an application/json GraphQL answer) in application/graphql-response+json:
    a request that was not executed (parse, validation, variables, limits) is a 400 without
    `data`, as the GraphQL-over-HTTP specification asks; an executed one keeps its 200."""
    if response.headers.get("content-type") != JSON:
        return response  # a refusal written in the negotiated type already, or GraphiQL's page
    if not (
        record.executed
        and not record.reached_execution
        and response.status_code == 200
        and record.error_codes
        and not _SENT_AGAIN_WITH_ITS_DOCUMENT.intersection(record.error_codes)
    ):
        response.headers["content-type"] = GRAPHQL_RESPONSE
        return response
    body = orjson.loads(bytes(response.body))  # small: errors only, no data was computed
    body.pop("data", None)
    refused = Response(orjson.dumps(body), status_code=400, media_type=GRAPHQL_RESPONSE)
    for name, value in response.headers.items():
        if name not in ("content-type", "content-length"):
            refused.headers.append(name, value)
    return refused


def _describe(record: RequestRecord, request_data: GraphQLRequestData) -> None:
    record.executed = True
    if isinstance(request_data.operation_name, str):
        record.operation = request_data.operation_name
    persisted = (request_data.extensions or {}).get("persistedQuery")
    if isinstance(persisted, dict) and isinstance(persisted.get("sha256Hash"), str):
        record.persisted_hash = persisted["sha256Hash"][:64]


def _reached_execution(result: ExecutionResult) -> bool:
    # Errors without a path are raised before any resolver runs: parse, validation, limits,
    # variables.
    return all(error.path is not None for error in result.errors or ())


def _codes(result: ExecutionResult) -> list[str]:
    codes = []
    for error in result.errors or ():
        code = (error.extensions or {}).get("code")
        codes.append(code if isinstance(code, str) else "INTERNAL_SERVER_ERROR")
    return codes


def _finish(
    record: RequestRecord,
    started: float,
    statements: StatementRecorder,
    state: RouterState,
    *,
    duration: float | None = None,
) -> None:
    if not record.executed and record.status == 200:
        return  # GraphiQL's page: no GraphQL request to measure
    duration = time.perf_counter() - started if duration is None else duration
    record.duration_ms = duration * 1000
    record.statements = statements.count
    state.metrics.observe_request(
        operation=record.operation,
        executed=record.reached_execution,
        duration_s=duration,
        statements=record.statements,
        error_codes=record.error_codes,
    )
    log_request(record)
