"""GatewayMetrics: the gateway's Prometheus metrics, served at `/metrics` in text format.

Each app has its own `CollectorRegistry` (several apps in one process never clash):

    gateway_pool_size, gateway_pool_max_size,          the shared pool, read at scrape time
    gateway_pool_used_connections, gateway_pool_idle_connections
    gateway_graphql_requests_total{operation}          GraphQL requests
    gateway_graphql_request_duration_seconds{operation}   their latency (histogram)
    gateway_graphql_request_statements{operation}      SQL statements per request (histogram)
    gateway_graphql_errors_total{code}                 errors by extensions.code
    gateway_dataloader_batch_size                      keys per dataloader batch (histogram)
    gateway_planned_execution_fallbacks_total{reason}  operations graphql-core's executor ran
                                                       instead of the plan (this process)
    gateway_websockets_open, gateway_subscriptions      WebSockets and subscriptions now
    gateway_subscription_events_total                  notifications heard from PostgreSQL
    gateway_subscription_events_dropped_total          dropped from slow subscribers' queues
    gateway_event_listener_connected                   1 while the LISTEN connection is up
    gateway_event_listener_reconnections_total         times it was re-made
    gateway_library_contact_broken{contact}            1 for a private library name that no
                                                       longer fits (gateway.compat), else 0

`metrics_router` serves them on the app's own port (development), `metrics_app` on another
(`GATEWAY_METRICS_PORT`, see gateway.http.metrics_server).

`operation` is the request's operationName, "anonymous" without one, and "refused" for a
request that never reached execution (a parse or validation error, a limit, bad variables, a
persisted-query miss, an unknown operation name): only operations that ran can name a label.
Label values are bounded: the manifest's operation names always count as themselves; other
names are admitted until `max_operations` distinct ones have been seen, and later ones (or
anything that is not a GraphQL name, or is one of the three fixed labels) are counted as
"other". Error codes are bounded the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import asyncpg
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from gateway.compat import CONTACTS, broken_contacts
from gateway.execution.executor import FALLBACKS
from gateway.subscriptions.hub import EventHub

__all__ = ["GatewayMetrics", "metrics_app", "metrics_router"]

DEFAULT_MAX_OPERATIONS = 100
DEFAULT_MAX_ERROR_CODES = 50
OTHER = "other"
ANONYMOUS = "anonymous"
REFUSED = "refused"
_FIXED_LABELS = frozenset({OTHER, ANONYMOUS, REFUSED})

_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,59}")
_STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class _BoundedLabel:
    """Label values from clients, capped: unseen values past `cap` become "other"."""

    def __init__(self, cap: int, pattern: re.Pattern[str], known: Iterable[str] = ()) -> None:
        self._cap = cap
        self._pattern = pattern
        self._known = {value for value in known if pattern.fullmatch(value)}
        self._admitted: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._known or value in self._admitted:
            return value
        if not self._pattern.fullmatch(value) or len(self._admitted) >= self._cap:
            return OTHER
        self._admitted.add(value)
        return value


class _PoolCollector:
    """The shared pool's sizes, read when Prometheus scrapes (no connection taken)."""

    def __init__(self, pool: Callable[[], asyncpg.Pool | None]) -> None:
        self._pool = pool

    def describe(self) -> Iterable[Metric]:
        return self._families(None)

    def collect(self) -> Iterable[Metric]:
        pool = self._pool()
        return self._families(None if pool is None or pool.is_closing() else pool)

    @staticmethod
    def _families(pool: asyncpg.Pool | None) -> list[Metric]:
        families = {
            "size": GaugeMetricFamily("gateway_pool_size", "Open connections of the pool."),
            "max_size": GaugeMetricFamily(
                "gateway_pool_max_size", "The most connections the pool opens."
            ),
            "used": GaugeMetricFamily(
                "gateway_pool_used_connections", "Connections of the pool in use."
            ),
            "idle": GaugeMetricFamily(
                "gateway_pool_idle_connections", "Open connections of the pool not in use."
            ),
        }
        if pool is not None:
            size, idle = pool.get_size(), pool.get_idle_size()
            families["size"].add_metric([], size)
            families["max_size"].add_metric([], pool.get_max_size())
            families["used"].add_metric([], size - idle)
            families["idle"].add_metric([], idle)
        return list(families.values())


class _SubscriptionCollector:
    """The event hub's and the WebSockets' numbers, read when Prometheus scrapes."""

    def __init__(self, state: Callable[[], tuple[EventHub | None, int]]) -> None:
        self._state = state

    def describe(self) -> Iterable[Metric]:
        return self._families(None, 0)

    def collect(self) -> Iterable[Metric]:
        return self._families(*self._state())

    @staticmethod
    def _families(hub: EventHub | None, websockets: int) -> list[Metric]:
        sockets = GaugeMetricFamily("gateway_websockets_open", "Open WebSocket connections.")
        sockets.add_metric([], websockets)
        families: list[Metric] = [sockets]
        if hub is None:
            return families
        for name, text, value in (
            ("gateway_subscriptions", "Subscriptions listening for events.", hub.subscriber_count),
            (
                "gateway_event_listener_connected",
                "1 while the listening connection to PostgreSQL is up.",
                int(hub.connected),
            ),
        ):
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], value)
            families.append(gauge)
        for name, text, value in (
            ("gateway_subscription_events", "Notifications heard from PostgreSQL.", hub.received),
            (
                "gateway_subscription_events_dropped",
                "Events dropped from slow subscribers' full queues (each told EVENTS_MISSED).",
                hub.dropped,
            ),
            (
                "gateway_event_listener_reconnections",
                "Times the listening connection was re-made (subscribers told EVENTS_MISSED).",
                hub.reconnections,
            ),
        ):
            counter = CounterMetricFamily(name, text)
            counter.add_metric([], value)
            families.append(counter)
        return families


class GatewayMetrics:
    """One app's metrics and their registry.

    Usage: `metrics = GatewayMetrics(pool=lambda: app.state.pool)`, then
    `metrics.observe_request(...)` per request and `metrics.render()` per scrape.
    """

    def __init__(
        self,
        *,
        pool: Callable[[], asyncpg.Pool | None],
        known_operations: Iterable[str] = (),
        max_operations: int = DEFAULT_MAX_OPERATIONS,
        subscriptions: Callable[[], tuple[EventHub | None, int]] = lambda: (None, 0),
    ) -> None:
        self.registry = CollectorRegistry()
        self._operation = _BoundedLabel(max_operations, _GRAPHQL_NAME, known_operations)
        self._error_code = _BoundedLabel(DEFAULT_MAX_ERROR_CODES, _ERROR_CODE)
        self._requests = Counter(
            "gateway_graphql_requests",
            "GraphQL requests, by operation name.",
            ["operation"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "gateway_graphql_request_duration_seconds",
            "Time to answer a GraphQL request, by operation name.",
            ["operation"],
            registry=self.registry,
        )
        self._statements = Histogram(
            "gateway_graphql_request_statements",
            "SQL statements sent for one GraphQL request, by operation name.",
            ["operation"],
            buckets=_STATEMENT_BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter(
            "gateway_graphql_errors",
            "GraphQL errors returned, by extensions.code.",
            ["code"],
            registry=self.registry,
        )
        self._batch_size = Histogram(
            "gateway_dataloader_batch_size",
            "Keys loaded in one dataloader batch (one SQL statement).",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        collector: Collector = _PoolCollector(pool)
        self.registry.register(collector)
        self.registry.register(_FallbackCollector())
        subscription_collector: Collector = _SubscriptionCollector(subscriptions)
        self.registry.register(subscription_collector)

    def observe_request(
        self,
        *,
        operation: str | None,
        duration_s: float,
        statements: int,
        error_codes: Sequence[str],
        executed: bool = False,
    ) -> None:
        """Count one finished GraphQL request; unless it `executed`, under "refused"."""
        label = self._operation_label(operation) if executed else REFUSED
        self._requests.labels(label).inc()
        self._duration.labels(label).observe(duration_s)
        self._statements.labels(label).observe(statements)
        for code in error_codes:
            self._errors.labels(self._error_code(code)).inc()

    def observe_refusal(self, code: str, duration_s: float) -> None:
        """Count one request refused before it became a GraphQL request (RequestGuard's
        refusals: CSRF, body size, malformed JSON), with its error code."""
        self.observe_request(
            operation=None, duration_s=duration_s, statements=0, error_codes=[code]
        )

    def _operation_label(self, operation: str | None) -> str:
        if not operation:
            return ANONYMOUS
        if operation in _FIXED_LABELS:
            return OTHER  # an operation named "refused" must not pass for refused requests
        return self._operation(operation)

    def observe_batch(self, size: int) -> None:
        """Count one dataloader batch of `size` keys."""
        self._batch_size.observe(size)

    def render(self) -> bytes:
        """Every metric in Prometheus' text format."""
        return generate_latest(self.registry)


class _FallbackCollector(Collector):
    """The planned executor's fallbacks and the library contacts, read at scrape time."""

    def collect(self) -> Iterable[Metric]:
        fallbacks = CounterMetricFamily(
            "gateway_planned_execution_fallbacks",
            "Operations graphql-core's executor ran instead of the plan, by reason "
            "(mutations and introspection always do), in this process.",
            labels=["reason"],
        )
        for reason, count in sorted(FALLBACKS.items()):
            fallbacks.add_metric([reason], count)
        yield fallbacks
        broken = {contact.contact for contact in broken_contacts()}
        contacts = GaugeMetricFamily(
            "gateway_library_contact_broken",
            "1 where a private name of Strawberry, graphql-core, asyncpg or uvicorn the "
            "gateway uses does not fit the installed version (see the startup warning).",
            labels=["contact"],
        )
        for contact in CONTACTS:
            contacts.add_metric([contact], 1.0 if contact in broken else 0.0)
        yield contacts


def metrics_router(metrics: GatewayMetrics) -> APIRouter:
    """`GET /metrics`: `metrics` in Prometheus' text format, as a route of the app."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def scrape() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router


def metrics_app(metrics: GatewayMetrics) -> Starlette:
    """An ASGI app of its own that answers `GET /metrics` (and 404 elsewhere), for a
    server on another port than the API's (gateway.http.metrics_server)."""

    async def scrape(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", scrape, methods=["GET"])])
