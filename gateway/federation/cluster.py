"""Every service as a subgraph process and Hive Gateway in front, over one PostgreSQL.

    python -m gateway.federation.cluster [--host 127.0.0.1] [--port 4000]

(what scripts/federation runs, after `npm ci` in federation/). Without DATABASE_URL it starts
the embedded PostgreSQL `gateway serve` uses (GATEWAY_DATA_DIR, .gateway/pgdata) and loads
the demo data once; with it, that database, with no demo data unless GATEWAY_DEMO_DATA=1.
The first subgraph applies the migrations (and the demo data) before the others start; the
subgraphs' SDL (`_service { sdl }`) is composed by federation/compose.mjs into
federation/supergraph.graphql, which Hive Gateway serves at the router URL it prints.
Ctrl-C or SIGTERM stops the router, the subgraphs and the embedded server, in that order.

`running(...)` is the same, as a context manager: tests/federation starts it on a test
database.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from gateway.graphql.service import Service
from gateway.settings import PROJECT_ROOT

__all__ = [
    "FEDERATION_DIR",
    "Child",
    "Cluster",
    "ClusterError",
    "compose",
    "federated",
    "main",
    "running",
]

FEDERATION_DIR = PROJECT_ROOT / "federation"
# Node 22 from npm's `node` package (some of Hive Gateway's packages need Node >= 22.15),
# whatever Node is on PATH.
NODE = FEDERATION_DIR / "node_modules" / ".bin" / "node"
HIVE_GATEWAY = FEDERATION_DIR / "node_modules" / "@graphql-hive" / "gateway" / "dist" / "bin.js"
GATEWAY = Path(sys.executable).parent / "gateway"  # the console script beside this Python
STARTUP_LIMIT = 90.0  # seconds for a process to answer; a bound, not a performance check
STOP_LIMIT = 30.0  # seconds to exit after SIGTERM, before SIGKILL


class ClusterError(RuntimeError):
    """Raised when a subgraph, the composition or the router does not start."""


def federated(services: Sequence[Service]) -> list[str]:
    """The services served as subgraphs: all but the tenant-scoped ones."""
    return [service.name for service in services if not service.tenant_scoped]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class Child:
    """A process of the cluster, its output (stdout and stderr) collected line by line,
    and with `echo` also printed, each line after the process's name."""

    def __init__(
        self, name: str, command: Sequence[str], env: Mapping[str, str], *, echo: bool = False
    ) -> None:
        self.name = name
        self.echo = echo
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            list(command),
            cwd=FEDERATION_DIR if name == "router" else PROJECT_ROOT,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # A thread drains the pipe, so a chatty process never blocks on a full one.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if self.echo:
                print(f"[{self.name}] {line}", end="", flush=True)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_answering(self, url: str, query: str) -> None:
        """Until `url` answers `query` with 200, or ClusterError with the output."""
        deadline = time.monotonic() + STARTUP_LIMIT
        body = json.dumps({"query": query}).encode()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ClusterError(f"{self.name} exited early:\n{self.output}")
            request = urllib.request.Request(
                url, data=body, headers={"content-type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise ClusterError(f"{self.name} did not answer within {STARTUP_LIMIT}s:\n{self.output}")

    def stop(self) -> None:
        """SIGTERM (a graceful shutdown), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_LIMIT)
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass(frozen=True)
class Cluster:
    """The running subgraphs (by service name) and router."""

    subgraphs: Mapping[str, Child]
    subgraph_urls: Mapping[str, str]
    router: Child
    router_url: str


def compose(subgraph_urls: Mapping[str, str], out: Path, *, sdl_dir: Path | None = None) -> str:
    """federation/compose.mjs: the supergraph of these subgraphs written to `out`; its
    output (hints), or ClusterError with the composition's errors."""
    _check_installed()
    command = [str(NODE), "compose.mjs", "--out", str(out)]
    if sdl_dir is not None:
        command += ["--sdl-dir", str(sdl_dir)]
    command += [f"{name}={url}" for name, url in subgraph_urls.items()]
    result = subprocess.run(
        command, cwd=FEDERATION_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise ClusterError(f"The subgraphs do not compose:\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr


def _check_installed() -> None:
    if not (NODE.is_file() and HIVE_GATEWAY.is_file()):
        raise ClusterError(
            f"The router's npm packages are not installed: run `npm ci` in {FEDERATION_DIR} "
            "(scripts/federation does)."
        )


@contextmanager
def running(
    services: Sequence[Service],
    env: Mapping[str, str],
    *,
    host: str = "127.0.0.1",
    router_port: int | None = None,
    demo_data: bool = False,
    supergraph: Path = FEDERATION_DIR / "supergraph.graphql",
    echo: bool = False,
) -> Iterator[Cluster]:
    """Start a subgraph per federated service (`env`: DATABASE_URL and GATEWAY_*, over this
    process's environment), compose them and start the router; stop them all on exit.
    `echo` prints their output as it comes."""
    _check_installed()
    names = federated(services)
    base = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    base |= dict(env)
    base["PYTHONPATH"] = str(PROJECT_ROOT)  # GATEWAY_SERVICES may name the project's modules
    ports = {name: _free_port(host) for name in names}
    urls = {name: f"http://{host}:{port}/graphql" for name, port in ports.items()}
    with ExitStack() as stack:

        def start(name: str, extra: Mapping[str, str]) -> Child:
            command = [str(GATEWAY), "serve", "--subgraph", name]
            command += ["--host", host, "--port", str(ports[name])]
            child = Child(name, command, base | dict(extra), echo=echo)
            stack.callback(child.stop)
            return child

        # The first applies the migrations (and loads the demo data) alone; then the others.
        first, *rest = names
        subgraphs = {first: start(first, {"GATEWAY_DEMO_DATA": "1"} if demo_data else {})}
        subgraphs[first].wait_until_answering(urls[first], "{ _service { sdl } }")
        subgraphs |= {name: start(name, {}) for name in rest}
        for name in rest:
            subgraphs[name].wait_until_answering(urls[name], "{ _service { sdl } }")
        compose(urls, supergraph)
        port = router_port or _free_port(host)
        router = Child(
            "router",
            [
                *(str(NODE), str(HIVE_GATEWAY), "supergraph", str(supergraph)),
                *("--config-path", "gateway.config.mjs", "--host", host, "--port", str(port)),
            ],
            base,
            echo=echo,
        )
        stack.callback(router.stop)  # stopped first: callbacks run last in, first out
        router_url = f"http://{host}:{port}/graphql"
        router.wait_until_answering(router_url, "{ __typename }")
        yield Cluster(subgraphs, urls, router, router_url)


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    """scripts/federation: the cluster until Ctrl-C or SIGTERM."""
    from gateway.cli import load_services, with_development_secret
    from gateway.db.embedded import EmbeddedPostgres
    from gateway.identity.development import mint_token
    from gateway.settings import Settings

    parser = argparse.ArgumentParser(prog="scripts/federation", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000, help="the router's port")
    args = parser.parse_args(argv)
    try:
        settings = with_development_secret(Settings.from_env())
    except ValueError as error:
        print(f"scripts/federation: {error}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _exit)
    server = None
    if settings.database_url is None:
        print(f"No DATABASE_URL: using the embedded PostgreSQL in {settings.data_dir}", flush=True)
        server = EmbeddedPostgres.start(settings.data_dir)
        settings = replace(settings, database_url=server.url)
    env = {
        "DATABASE_URL": settings.database_url or "",
        "GATEWAY_DATA_DIR": str(settings.data_dir),  # where the development secret is kept
        **{name: value for name, value in os.environ.items() if name.startswith("GATEWAY_")},
    }
    try:
        with running(
            load_services(settings.services),
            env,
            host=args.host,
            router_port=args.port,
            demo_data=server is not None or settings.demo_data,
            echo=True,
        ) as cluster:
            for name, url in cluster.subgraph_urls.items():
                print(f"Subgraph {name}: {url}", flush=True)
            print(f"Router (Hive Gateway): {cluster.router_url}", flush=True)
            if not settings.production and settings.auth.secret is not None:
                admin = mint_token(settings.auth, subject="1", roles=["admin"], ttl=12 * 3600)
                print(f'An admin token for 12 hours:\n  {{"Authorization": "Bearer {admin}"}}')
            while all(child.process.poll() is None for child in cluster.subgraphs.values()):
                if cluster.router.process.poll() is not None:
                    break
                time.sleep(0.5)
            print("A process of the cluster exited; stopping the others.", file=sys.stderr)
            return 1
    except ClusterError as error:
        print(f"scripts/federation: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
