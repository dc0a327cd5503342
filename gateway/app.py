"""create_app(settings, services): the FastAPI application over ONE shared pool.

The lifespan opens the pool, gives every service `AsyncDatabaseManager(pool=..., schema=
<service>)`, applies each service's migrations under `module_name=<service>`, and closes the
pool on shutdown, or when startup fails halfway. A tenant-scoped service's manager is the
request's tenant's instead (gateway.tenancy), over the same pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, nullcontext
from datetime import timedelta
from typing import Any

import asyncpg
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.compat import HTTP_VIEW_STEPS, check_contacts, contact_fits
from gateway.db import AsyncDatabaseManager, AsyncMigrationManager
from gateway.execution.gc_tuning import tuned_garbage_collector
from gateway.graphql.context import Context
from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.schema import build_schema
from gateway.graphql.service import Service
from gateway.http.graphiql import add_graphiql
from gateway.http.health import health_router
from gateway.http.health_connection import HealthConnection
from gateway.http.json_fast_path import JsonFastPath
from gateway.http.load_shedding import HEALTH_PATHS, InFlightGauge, InFlightLimit
from gateway.http.persisted_store import GATEWAY_SCHEMA, SharedDocuments, migrate_gateway_schema
from gateway.http.request_guard import VIEWER_KEY, RequestGuard
from gateway.http.router import GatewayRouter, RouterState
from gateway.identity.tokens import TokenRejected, TokenVerifier
from gateway.identity.viewer import ANONYMOUS
from gateway.metrics import metrics_router
from gateway.settings import Settings
from gateway.subscriptions.hub import EventHub
from gateway.tenancy import TenantServices

__all__ = [
    "StartupHook",
    "create_app",
    "migrate_gateway_tables",
    "migrate_services",
    "service_managers",
]

logger = logging.getLogger("gateway")

StartupHook = Callable[[Mapping[str, AsyncDatabaseManager]], Awaitable[None]]


def create_app(
    settings: Settings,
    services: Sequence[Service],
    *,
    on_startup: StartupHook | None = None,
) -> FastAPI:
    """The gateway app; the schema is built (and checked) now, the database opened at startup.

    Usage: `app = create_app(Settings.from_env(), SERVICES)`.
    """
    # Private library names that no longer fit are logged now (and shown on /metrics); the
    # code that uses them takes its public path.
    check_contacts()
    schema = build_schema(
        services,
        limits=settings.limits,
        max_page_size=settings.max_page_size,
        production=settings.production,
        cache_bytes=settings.cache_bytes,
    )
    if settings.production and not settings.auth.has_keys:
        raise ServiceConfigurationError(
            "Production needs a key to verify bearer tokens with: set GATEWAY_JWT_SECRET (32 "
            "or more random characters), GATEWAY_JWKS_FILE or GATEWAY_JWKS_URL."
        )
    tokens = TokenVerifier(settings.auth)
    for service in services:
        if service.name == GATEWAY_SCHEMA:
            raise ServiceConfigurationError(
                f"No service may be called {GATEWAY_SCHEMA!r}: the gateway keeps its own tables "
                "in that schema (the persisted documents every process shares)."
            )
        folder = settings.migrations_dir / service.name
        if not folder.is_dir():
            raise ServiceConfigurationError(
                f"Service {service.name!r} has no migrations folder {folder}; create it "
                f"(even empty) and put its NNN_name.sql files there."
            )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await tokens.load_keys()  # a JWKS that cannot be read stops the startup
        pool = await AsyncDatabaseManager.create_shared_pool(settings.database_config())
        health = HealthConnection(settings.database_config())  # opened by the first probe
        # ONE listening connection, outside the pool, when any service has subscriptions.
        events = (
            EventHub(settings.database_config(), queue_limit=settings.subscriptions.queue)
            if any(service.subscription is not None for service in services)
            else None
        )
        try:
            managers = service_managers(pool, services)
            await migrate_services(managers, settings)
            await migrate_gateway_tables(pool, settings)
            if settings.shares_persisted_documents:
                router_state.persisted.store = SharedDocuments(
                    AsyncDatabaseManager(pool=pool, schema=GATEWAY_SCHEMA),
                    max_bytes=settings.persisted_store_bytes,
                )
            tenancy = TenantServices(
                pool,
                services,
                settings.migrations_dir,
                auto_provision=settings.tenant_auto_provision,
            )
            await tenancy.start()
            app.state.pool = pool
            app.state.managers = managers
            app.state.tenancy = tenancy
            app.state.health_connection = health
            if events is not None:
                await events.start()
                app.state.events = events
            app.state.managers_by_loader_set = {
                loader_set: managers[service.name]
                for service in services
                if not service.tenant_scoped
                for loader_set in service.loaders
            }
            if on_startup is not None:
                await on_startup(managers)
            with tuned_garbage_collector() if settings.gc_tuning else nullcontext():
                yield
        finally:
            if events is not None:
                await events.close()  # every subscription completes
            await health.close()
            await pool.close()

    async def get_context(request: HTTPConnection) -> Context:
        # async: FastAPI would run a plain function in a worker thread, per request.
        # HTTPConnection: an HTTP request's, or a WebSocket's (anonymous until its
        # connection_init is verified, in authenticate_websocket).
        state = request.app.state
        viewer = request.scope.get(VIEWER_KEY, ANONYMOUS)
        managers, unavailable = await state.tenancy.for_request(
            state.managers_by_loader_set, viewer
        )
        return Context(
            managers,
            max_page_size=settings.max_page_size,
            viewer=viewer,
            unavailable=unavailable,
            events=getattr(state, "events", None),
        )

    async def authenticate_websocket(context: Context) -> None:
        params = context.connection_params or {}
        authorization = params.get("Authorization", params.get("authorization"))
        if authorization is not None and not isinstance(authorization, str):
            raise TokenRejected("connection_init's Authorization must be a string.")
        viewer = await tokens.viewer(authorization.encode() if authorization else None)
        state = app.state
        managers, unavailable = await state.tenancy.for_request(
            state.managers_by_loader_set, viewer
        )
        context.authenticate(viewer, managers, unavailable)

    # No OpenAPI document, Swagger UI or ReDoc: the gateway has no REST API to describe, and
    # those pages would tell a prober what runs here (and load scripts from a CDN).
    app = FastAPI(
        title="GraphQL gateway", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    # Persisted queries, request metrics and log; the manifest is read now.
    router_state = RouterState.from_settings(
        settings,
        pool=lambda: getattr(app.state, "pool", None),
        subscriptions=lambda: (getattr(app.state, "events", None), graphql.open_websockets),
    )
    app.state.gateway_router = router_state  # the metrics server reads it too
    graphql = GatewayRouter(
        schema,
        context_getter=get_context,
        state=router_state,
        graphql_ide=None,  # ours, served offline by gateway.http.graphiql
        allow_queries_via_get=True,
        max_response_bytes=settings.limits.max_response_bytes,
        # Subscriptions: graphql-transport-ws only (what the graphql-ws client speaks), the
        # token in connection_init, a browser page only from an allowed origin (the
        # handshake is not subject to CORS: cross-site WebSocket hijacking).
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        authenticate_websocket=authenticate_websocket,
        allowed_origins=settings.cors_origins,
        max_websockets=settings.subscriptions.connections,
        max_subscriptions_per_connection=settings.subscriptions.per_connection,
        connection_init_wait_timeout=timedelta(seconds=settings.subscriptions.init_timeout),
    )
    if settings.graphiql_enabled:
        # before the router: its page route goes first
        add_graphiql(app, path="/graphql", default_query=schema.example_document)
    app.include_router(graphql, prefix="/graphql")
    app.include_router(health_router(settings.migrations_dir))
    if settings.metrics_on_public_port:  # else on its own port (gateway.http.metrics_server)
        app.include_router(metrics_router(router_state.metrics))
    # Inside RequestGuard: the JSON POSTs it let through skip FastAPI's routing (which needs
    # the steps of Strawberry's view that run_json runs).
    if contact_fits(HTTP_VIEW_STEPS):
        app.add_middleware(JsonFastPath, path="/graphql", router=graphql)
    # Inside RequestGuard: a client slow to send its body holds no slot (the body timeout
    # bounds it); health probes are never refused.
    app.state.in_flight = InFlightGauge(settings.max_in_flight)  # gateway.http.server too
    app.add_middleware(
        InFlightLimit,
        gauge=app.state.in_flight,
        exempt_prefixes=HEALTH_PATHS,
        on_refusal=router_state.metrics.observe_refusal,
    )
    app.add_middleware(
        RequestGuard,
        path="/graphql",
        max_body_bytes=settings.limits.max_body_bytes,
        csrf_prevention=settings.csrf_prevention,
        on_refusal=router_state.metrics.observe_refusal,
        body_timeout=settings.body_timeout,
        authenticate=tokens.viewer,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=[
                "authorization",
                "content-type",
                "apollo-require-preflight",
                "x-apollo-operation-name",
            ],
            expose_headers=["x-correlation-id"],
            max_age=600,
        )
    return app


def service_managers(
    pool: asyncpg.Pool, services: Sequence[Service]
) -> dict[str, AsyncDatabaseManager]:
    """A manager of its own schema for every service but the tenant-scoped ones (whose
    manager is each request's tenant's: gateway.tenancy)."""
    return {
        service.name: AsyncDatabaseManager(pool=pool, schema=service.name)
        for service in services
        if not service.tenant_scoped
    }


async def migrate_gateway_tables(pool: Any, settings: Settings) -> None:
    """The gateway's own tables (schema `gateway`), when its settings use them."""
    if settings.shares_persisted_documents:
        await migrate_gateway_schema(pool)


async def migrate_services(
    managers: Mapping[str, AsyncDatabaseManager], settings: Settings
) -> dict[str, dict[str, Any]]:
    """Apply every service's pending migrations; returns each service's status dict."""
    results = {}
    for name, db in managers.items():
        migrations = AsyncMigrationManager(db, settings.migrations_dir / name, module_name=name)
        results[name] = await migrations.apply_pending_migrations()
        logger.info("migrations for %s: %s", name, results[name]["status"])
    return results
