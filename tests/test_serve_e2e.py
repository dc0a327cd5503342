"""`./scripts/serve` (README) without DATABASE_URL, end to end: a real process, a real embedded
PostgreSQL in GATEWAY_DATA_DIR, real HTTP, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from gateway.db.embedded import kill_server_on
from tests.gateway_process import GatewayProcess

ROOT = Path(__file__).resolve().parent.parent
# The README's serve command: it bootstraps .venv (already installed here) and execs
# `gateway serve`, so the process we signal is the server itself.
SERVE = Path(__file__).resolve().parent.parent / "scripts" / "serve"
STARTUP_LIMIT = 180.0  # seconds; initdb on a slow machine, not a performance assertion

NESTED = """
{
  users(first: 10) {
    nodes {
      email
      orders(first: 5) { nodes { total status payments(first: 5) { nodes { amount currency } } } }
    }
  }
}
"""


class Server(GatewayProcess):
    """The README's serve command on `data_dir`, with what these tests check of it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        super().__init__({"GATEWAY_DATA_DIR": str(data_dir)}, command=[str(SERVE)])

    def wait_until_ready(self) -> None:
        """Until it has printed the GraphiQL URL and answers a query (or fail saying why)."""
        deadline = time.monotonic() + STARTUP_LIMIT
        while f"GraphiQL: {self.url}" not in self.output and time.monotonic() < deadline:
            assert self.process.poll() is None, f"gateway serve exited early:\n{self.output}"
            time.sleep(0.2)
        super().wait_until_ready()

    def printed_headers(self) -> str:
        """The line the serve command printed to paste into GraphiQL's Headers tab."""
        printed = re.search(r'^\s*(\{"Authorization": "Bearer [\w.-]+"\})$', self.output, re.M)
        assert printed, f"no admin token printed:\n{self.output}"
        return printed.group(1)

    def admin_token(self) -> str:
        """The admin token in the printed headers."""
        token: str = json.loads(self.printed_headers())["Authorization"].removeprefix("Bearer ")
        return token

    def query(self, query: str) -> dict[str, Any]:
        """`query`'s data, asked as the printed admin (the nested query lists users)."""
        headers = {"authorization": f"Bearer {self.admin_token()}"}
        response = httpx.post(self.url, json={"query": query}, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def postmaster(self) -> psutil.Process:
        pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        return psutil.Process(pid)

    def database_url(self) -> str:
        # postmaster.pid's fifth line is the socket directory: the data directory itself,
        # unless that path is too long for a Unix socket.
        socket_dir = (self.data_dir / "postmaster.pid").read_text().splitlines()[4]
        return f"postgresql://postgres:@/postgres?host={socket_dir}"

    def stop(self) -> None:
        """SIGTERM, then wait for the process to exit (failing if it does not)."""
        self.terminate()
        self.wait_for_exit()

    def kill(self) -> None:
        """Whatever is still running goes: the process, its reader, its PostgreSQL."""
        super().kill()
        kill_server_on(self.data_dir)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start `gateway serve` on `tmp_path/pgdata`; whatever is left is killed afterwards."""
    servers: list[Server] = []

    def start() -> Server:
        server = Server(tmp_path / "pgdata")
        servers.append(server)
        server.wait_until_ready()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.kill()


def is_alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def postgres_processes_on(data_dir: Path) -> list[psutil.Process]:
    return [
        proc
        for proc in psutil.process_iter(["name", "cmdline"])
        if proc.info["name"] == "postgres"
        and any(str(data_dir) in part for part in proc.info["cmdline"] or ())
        and is_alive(proc)
    ]


def client_connections(database_url: str) -> list[asyncpg.Record]:
    """Every client connection to the server but this one."""

    async def query() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(
                "SELECT pid, datname, application_name FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()

    return asyncio.run(query())


def test_serve_without_database_url_embeds_postgres_with_demo_data_and_stops_it(
    serve: Any,
) -> None:
    server = serve()

    users = server.query(NESTED)["users"]["nodes"]
    assert len(users) == 5
    for user in users:
        orders = user["orders"]["nodes"]
        assert [order["status"] for order in orders] == ["PAID", "PENDING"]
        assert orders[0]["payments"]["nodes"] == [{"amount": orders[0]["total"], "currency": "EUR"}]
        assert orders[1]["payments"]["nodes"] == []

    connections = client_connections(server.database_url())
    assert connections, "the gateway's pool holds at least one connection"
    # The pool's, and the subscriptions' one listening connection.
    assert {(row["datname"], row["application_name"]) for row in connections} == {
        ("postgres", "gateway"),
        ("postgres", "gateway-events"),
    }
    listeners = [row for row in connections if row["application_name"] == "gateway-events"]
    assert len(listeners) == 1
    assert len(connections) <= 20 + 1  # the pool's default maximum, and the listener

    postmaster = server.postmaster()
    backends = postmaster.children()
    assert "No DATABASE_URL: using the embedded PostgreSQL in" in server.output

    server.stop()
    assert not is_alive(postmaster), server.output

    assert not [proc for proc in backends if is_alive(proc)]
    assert postgres_processes_on(server.data_dir) == []
    assert not (server.data_dir / "postmaster.pid").exists()


def test_serving_again_on_the_same_data_does_not_duplicate_the_demo_data(serve: Any) -> None:
    first = serve()
    emails = [user["email"] for user in first.query(NESTED)["users"]["nodes"]]
    first.stop()

    second = serve()
    again = [user["email"] for user in second.query(NESTED)["users"]["nodes"]]
    second.stop()

    assert len(emails) == 5
    assert again == emails
