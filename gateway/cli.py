"""The `gateway` command: serve, migrate, export-schema, check-schema.

gateway serve            # embedded PostgreSQL + demo data when DATABASE_URL is unset
gateway serve --workers 2   # two processes on one port, sharing GATEWAY_POOL_MAX
gateway migrate [--tenants]   # every service's migrations (and every tenant's), a status each
gateway tenants create acme [globex ...] | list | drop acme --yes   # tenant-scoped services
gateway export-schema -o schema.graphql
gateway serve --subgraph users --port 8001   # one service as a Federation 2 subgraph
gateway export-schema --subgraph users       # that subgraph's SDL (`_service { sdl }`)
gateway check-schema     # breaking changes against schema.graphql exit non-zero
gateway token --sub 1 [--role admin] [--tenant acme] [--ttl 3600]   # a bearer token
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from graphql import build_schema as parse_sdl
from graphql import find_breaking_changes, find_dangerous_changes

from gateway.db import AsyncDatabaseManager
from gateway.db.embedded import EmbeddedPostgres
from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.schema import build_schema
from gateway.graphql.service import Service
from gateway.http.workers import run_workers
from gateway.identity.development import development_secret, mint_token, secret_file_for
from gateway.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["main"]


def load_services(spec: str) -> list[Service]:
    """The service list named by `module:attribute` (GATEWAY_SERVICES)."""
    module_name, _, attribute = spec.partition(":")
    services: list[Service] = getattr(importlib.import_module(module_name), attribute or "SERVICES")
    return services


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API with GraphiQL at /graphql")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers", type=int, help="worker processes sharing the port and the pool budget"
    )
    serve.add_argument("--subgraph", metavar="NAME", help="serve service NAME as a subgraph")
    migrate = commands.add_parser("migrate", help="apply every service's pending migrations")
    migrate.add_argument(
        "--tenants", action="store_true", help="and then every provisioned tenant's"
    )
    tenants = commands.add_parser("tenants", help="provision, list or drop tenants")
    tenants.add_argument("action", choices=["create", "list", "drop"])
    tenants.add_argument("tenant", nargs="*", help="tenant ids (create, drop)")
    tenants.add_argument("--yes", action="store_true", help="drop: yes, delete their data")
    export = commands.add_parser("export-schema", help="print the SDL (or write it with -o)")
    export.add_argument("-o", "--output", type=Path)
    export.add_argument("--subgraph", metavar="NAME", help="service NAME's subgraph SDL")
    check = commands.add_parser("check-schema", help="compare the live schema with a SDL file")
    check.add_argument("file", nargs="?", type=Path, default=PROJECT_ROOT / "schema.graphql")
    token = commands.add_parser("token", help="print a bearer token this gateway accepts")
    token.add_argument("--sub", required=True, help="the subject (a user id)")
    token.add_argument("--role", action="append", default=[], help="a role; repeatable")
    token.add_argument("--tenant")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    args = parser.parse_args(argv)

    try:
        settings = with_development_secret(Settings.from_env())
    except ValueError as error:  # a GATEWAY_* value that cannot be used: say which
        print(f"gateway: {error}", file=sys.stderr)
        return 2
    if args.command == "token":
        return _print_token(settings, args.sub, args.role, args.tenant, args.ttl)
    services = load_services(settings.services)
    if args.command == "serve":
        return _serve(
            replace(
                settings,
                host=args.host or settings.host,
                port=args.port or settings.port,
                workers=args.workers or settings.workers,
            ),
            services,
            subgraph=args.subgraph,
        )
    if args.command == "migrate":
        return _with_database(settings, lambda s: asyncio.run(_migrate(s, services, args.tenants)))
    if args.command == "tenants":
        return _tenants(settings, services, args.action, args.tenant, confirmed=args.yes)
    if args.command == "export-schema" and args.subgraph:
        return _export_subgraph(services, args.subgraph, args.output)
    sdl = build_schema(services).as_str() + "\n"
    if args.command == "export-schema":
        if args.output:
            args.output.write_text(sdl)
        else:
            sys.stdout.write(sdl)
        return 0
    return _check_schema(sdl, args.file)


def with_development_secret(settings: Settings) -> Settings:
    """In development without keys: the secret kept beside the embedded data directory."""
    if settings.production or settings.auth.has_keys:
        return settings
    secret = development_secret(secret_file_for(settings.data_dir))
    return replace(settings, auth=replace(settings.auth, secret=secret))


def _print_token(
    settings: Settings, subject: str, roles: list[str], tenant: str | None, ttl: int
) -> int:
    try:
        token = mint_token(settings.auth, subject=subject, roles=roles, tenant=tenant, ttl=ttl)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(token)  # the last line: scripts read it
    return 0


def _with_database(settings: Settings, run: Callable[[Settings], int]) -> int:
    if settings.database_url:
        return run(settings)
    server = EmbeddedPostgres.start(settings.data_dir)
    try:
        return run(replace(settings, database_url=server.url))
    finally:
        server.stop()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _export_subgraph(services: list[Service], name: str, output: Path | None) -> int:
    from gateway.federation import build_subgraph

    try:
        sdl = build_subgraph(services, name).sdl + "\n"
    except ServiceConfigurationError as error:
        print(f"gateway: {error}", file=sys.stderr)
        return 2
    if output:
        output.write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def _serve(settings: Settings, services: list[Service], subgraph: str | None = None) -> int:
    from gateway.app import create_app
    from gateway.http.server import run_http_server

    def run(settings: Settings) -> int:
        on_startup = None
        if settings.demo_data or embedded:
            from services.demo import load_demo_data

            on_startup = load_demo_data
        try:
            if subgraph is None:
                app = create_app(settings, services, on_startup=on_startup)
            else:
                from gateway.federation import create_subgraph_app

                app = create_subgraph_app(settings, services, subgraph, on_startup=on_startup)
        except ServiceConfigurationError as error:
            print(f"gateway: {error}", file=sys.stderr, flush=True)
            return 2
        if settings.workers < 1:
            print("gateway: --workers is at least 1.", file=sys.stderr, flush=True)
            return 2
        if subgraph is not None and settings.workers > 1:
            print("gateway: a subgraph is served by one worker.", file=sys.stderr, flush=True)
            return 2
        print(f"GraphiQL: http://{settings.host}:{settings.port}/graphql", flush=True)
        if not settings.production and settings.auth.secret is not None:
            admin = mint_token(settings.auth, subject="1", roles=["admin"], ttl=12 * 3600)
            print(
                "An admin token for 12 hours (user 1); paste this into GraphiQL's Headers tab:\n"
                f'  {{"Authorization": "Bearer {admin}"}}',
                flush=True,
            )
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it; turn that into a normal
        # exit so the embedded server is stopped on the way out.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        # uvicorn configures only its own loggers; the gateway's (one line per request,
        # masked errors, pool warnings) go to stderr at INFO too.
        logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s %(message)s")
        # uvicorn with timeouts, connection limits and throttled logs (gateway.http.server);
        # 3 is uvicorn's own exit status for a failed startup.
        if settings.workers > 1:
            return run_workers(
                settings,
                settings.workers,
                prepare=lambda: _prepare(settings, services, on_startup),
                serve=lambda worker, sockets: _serve_worker(worker, services, sockets),
            )
        with _metrics_port(app, settings):
            return 0 if run_http_server(app, settings) else 3

    embedded = settings.database_url is None
    if embedded:
        print(f"No DATABASE_URL: using the embedded PostgreSQL in {settings.data_dir}", flush=True)
    return _with_database(settings, run)


async def _prepare(
    settings: Settings,
    services: list[Service],
    on_startup: Callable[[Mapping[str, AsyncDatabaseManager]], Awaitable[None]] | None,
) -> None:
    """What several workers must not each do: migrations and demo data, once, here."""
    from gateway.app import migrate_gateway_tables, migrate_services, service_managers

    pool = await AsyncDatabaseManager.create_shared_pool(
        replace(settings, min_connections=1, max_connections=1).database_config()
    )
    try:
        managers = service_managers(pool, services)
        await migrate_services(managers, settings)
        await migrate_gateway_tables(pool, settings)
        if on_startup is not None:
            await on_startup(managers)
    finally:
        await pool.close()


def _serve_worker(settings: Settings, services: list[Service], sockets: list[socket.socket]) -> int:
    """One worker (gateway.http.workers): its own app and pool, on the shared socket."""
    from gateway.app import create_app
    from gateway.http.server import run_http_server

    app = create_app(settings, services)
    with _metrics_port(app, settings):
        return 0 if run_http_server(app, settings, sockets) else 3


def _metrics_port(app: FastAPI, settings: Settings) -> AbstractContextManager[object]:
    """GATEWAY_METRICS_PORT: /metrics served by a server of their own while the API runs."""
    if settings.metrics_port is None:
        return nullcontext()
    from gateway.http.metrics_server import serving_metrics

    print(f"Metrics: http://{settings.host}:{settings.metrics_port}/metrics", flush=True)
    return serving_metrics(app, host=settings.host, port=settings.metrics_port)


def _tenants(
    settings: Settings,
    services: list[Service],
    action: str,
    tenant_ids: list[str],
    *,
    confirmed: bool,
) -> int:
    from gateway.tenancy.commands import tenants_command

    if action != "list" and not tenant_ids:
        print(f"gateway tenants {action}: name at least one tenant id.", file=sys.stderr)
        return 2
    if action == "drop" and not confirmed:
        print(
            "gateway tenants drop deletes each tenant's schema and all its data: add --yes.",
            file=sys.stderr,
        )
        return 2
    return _with_database(
        settings, lambda s: asyncio.run(tenants_command(s, services, action, tenant_ids))
    )


async def _migrate(settings: Settings, services: list[Service], tenants: bool) -> int:
    from gateway.app import migrate_gateway_tables, migrate_services, service_managers
    from gateway.tenancy.commands import migrate_tenants

    pool = await AsyncDatabaseManager.create_shared_pool(settings.database_config())
    try:
        managers = service_managers(pool, services)  # tenant-scoped ones: --tenants
        for name, result in (await migrate_services(managers, settings)).items():
            applied = ", ".join(m["filename"] for m in result["applied"]) or "nothing new"
            print(
                f"{name}: {result['status']} (applied: {applied}; total files: {result['total']})"
            )
        await migrate_gateway_tables(pool, settings)
    finally:
        await pool.close()
    return await migrate_tenants(settings, services) if tenants else 0


def _check_schema(live_sdl: str, file: Path) -> int:
    if not file.exists():
        print(f"{file} does not exist; create it with `gateway export-schema -o {file}`.")
        return 1
    old, new = parse_sdl(file.read_text()), parse_sdl(live_sdl)
    breaking = find_breaking_changes(old, new)
    dangerous = find_dangerous_changes(old, new)
    for label, changes in (("BREAKING ", breaking), ("DANGEROUS", dangerous)):
        for change in changes:
            print(f"{label} {change.type.name}: {change.description}")
    if file.read_text() == live_sdl:
        print(f"{file} matches the live schema.")
    elif not breaking and not dangerous:
        print(f"{file} differs from the live schema, without breaking or dangerous changes.")
    return 1 if breaking else 0


if __name__ == "__main__":
    raise SystemExit(main())
