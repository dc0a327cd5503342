"""Overload run: many clients, slow clients and idle sockets against a real `gateway serve`.

    python -m benchmarks.overload [--seconds 20] [--scenarios concurrency,slow_heads,idle_sockets]

Starts an embedded PostgreSQL seeded with 100 users (benchmarks.database), then, each on a
fresh `gateway serve` process:

- concurrency: 200 clients, each sending a nested query in a loop on its own keep-alive
  connection, with the in-flight limit at its default and then off (GATEWAY_MAX_IN_FLIGHT
  very large, as before the limit): answered requests' p50/p99, SERVER_BUSY answers and
  their p99, and /health/ready probed every 0.5 s (statuses, slowest).
- slow_heads: 1,000 connections that send half a request head and hold; when the server
  hangs up on them, and a victim's p50/p99 (2 clients) meanwhile.
- idle_sockets: 1,100 sockets that send nothing, against a process whose file limit is
  1,024 (the common default): whether a victim is served during and after, and how many
  bytes the server logged.

Every `gateway serve` verifies tokens with the benchmark's key (GATEWAY_JWT_SECRET) and every
query carries its admin bearer token (benchmarks.contenders): the shop answers `users` only
to admins. Prints one JSON object; the numbers go into the README's Security section.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import BENCHMARK_ENV, BENCHMARK_HEADERS
from benchmarks.database import SeedSize, seeded_database
from benchmarks.servers import free_port

GATEWAY = Path(sys.executable).parent / "gateway"
ROOT = Path(__file__).resolve().parent.parent
QUERY = json.dumps(
    {"query": "{ users(first: 20) { nodes { name orders(first: 5) { nodes { total } } } } }"}
).encode()


@dataclass
class Gateway:
    process: subprocess.Popen[bytes]
    port: int
    log_bytes: int = 0

    def drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log_bytes += len(line)


def _spawn(database_url: str, env: dict[str, str], prefix: Sequence[str]) -> Gateway:
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    process = subprocess.Popen(
        [*prefix, str(GATEWAY), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=inherited | BENCHMARK_ENV | {"DATABASE_URL": database_url, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return Gateway(process, port)


@asynccontextmanager
async def gateway(
    database_url: str, env: dict[str, str], prefix: Sequence[str] = ()
) -> AsyncIterator[Gateway]:
    server = _spawn(database_url, env, prefix)
    port = server.port
    threading.Thread(target=server.drain, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = await exchange_once(port, post(port, QUERY))
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gateway serve did not start within 60 s")
            await asyncio.sleep(0.2)
        yield server
    finally:
        server.process.kill()
        await asyncio.to_thread(server.process.wait, 30)


def post(port: int, body: bytes) -> bytes:
    auth = "".join(f"{name}: {value}\r\n" for name, value in BENCHMARK_HEADERS)
    return (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{auth}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def get(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def exchange_once(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(read_response(reader), 30)
    finally:
        writer.close()


@dataclass
class Tally:
    ok: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "answered_200": len(self.ok),
            "p50_ms": _ms(self.ok, 0.5),
            "p99_ms": _ms(self.ok, 0.99),
            "server_busy_503": len(self.busy),
            "server_busy_p99_ms": _ms(self.busy, 0.99),
            "other": dict(self.other),
        }


def _ms(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)


async def client_loop(
    port: int, tally: Tally, stop: float, pause: float = 0.0, *, honour_retry_after: bool = False
) -> None:
    """Requests on one keep-alive connection (reopened when the server closes it); after a
    SERVER_BUSY, a client that honours Retry-After waits its 1 s."""
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as error:
            tally.other[type(error).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        try:
            while time.monotonic() < stop:
                started = time.monotonic()
                writer.write(post(port, QUERY))
                await writer.drain()
                status, body = await asyncio.wait_for(read_response(reader), 60)
                elapsed = time.monotonic() - started
                if status == 200:
                    tally.ok.append(elapsed)
                elif status == 503 and b"SERVER_BUSY" in body:
                    tally.busy.append(elapsed)
                    if honour_retry_after:
                        await asyncio.sleep(1)
                else:
                    tally.other[str(status)] += 1
                if pause:
                    await asyncio.sleep(pause)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
            tally.other[type(error).__name__] += 1
        finally:
            writer.close()


async def probe_readiness(port: int, stop: float) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    slowest = 0.0
    while time.monotonic() < stop:
        started = time.monotonic()
        try:
            status, _ = await exchange_once(port, get(port, "/health/ready"))
            statuses[status] += 1
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            statuses[0] += 1
        slowest = max(slowest, time.monotonic() - started)
        await asyncio.sleep(0.5)
    return {"statuses": dict(statuses), "slowest_ms": round(1000 * slowest, 1)}


async def concurrency(database_url: str, seconds: float) -> dict[str, Any]:
    results = {}
    runs = (
        ("no_in_flight_limit", "100000", False),
        ("limit_64_clients_honour_retry_after", None, True),
        ("limit_64_clients_ignore_retry_after", None, False),
    )
    for label, in_flight, honour in runs:
        env = {"GATEWAY_MAX_IN_FLIGHT": in_flight} if in_flight else {}
        async with gateway(database_url, env) as server:
            tally = Tally()
            stop = time.monotonic() + seconds
            probe = asyncio.create_task(probe_readiness(server.port, stop))
            await asyncio.gather(
                *(
                    client_loop(server.port, tally, stop, honour_retry_after=honour)
                    for _ in range(200)
                )
            )
            results[label] = {**tally.summary(), "readiness": await probe}
            print(label, json.dumps(results[label]), file=sys.stderr, flush=True)
    return results


async def slow_heads(database_url: str, seconds: float) -> dict[str, Any]:
    async with gateway(database_url, {}) as server:
        opened = time.monotonic()
        held = []
        for _ in range(1000):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(post(server.port, QUERY)[:40])
            held.append((reader, writer))

        async def hung_up(reader: asyncio.StreamReader) -> float | None:
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(reader.read(), seconds + 30)
                return time.monotonic() - opened
            return None

        victim = Tally()
        stop = time.monotonic() + seconds
        drops, _ = await asyncio.gather(
            asyncio.gather(*(hung_up(reader) for reader, _ in held)),
            asyncio.gather(*(client_loop(server.port, victim, stop, 0.05) for _ in range(2))),
        )
        for _, writer in held:
            writer.close()
        dropped = [d for d in drops if d is not None]
        return {
            "connections": len(held),
            "dropped": len(dropped),
            "last_dropped_after_s": round(max(dropped), 1) if dropped else None,
            "victim": victim.summary(),
        }


async def idle_sockets(database_url: str, seconds: float) -> dict[str, Any]:
    prefix = ("prlimit", "--nofile=1024:1024")
    async with gateway(database_url, {}, prefix) as server:
        log_before = server.log_bytes
        idle = []
        for _ in range(1100):
            try:
                idle.append(await asyncio.open_connection("127.0.0.1", server.port))
            except OSError:
                break
        during = Tally()
        await client_loop(server.port, during, time.monotonic() + 2, 0.05)
        await asyncio.sleep(max(0.0, seconds - 2))
        after = Tally()
        await client_loop(server.port, after, time.monotonic() + 2, 0.05)
        for _, writer in idle:
            writer.close()
        return {
            "idle_sockets": len(idle),
            "victim_during_first_2s": during.summary(),
            f"victim_after_{seconds:g}s": after.summary(),
            "log_bytes": server.log_bytes - log_before,
        }


SCENARIOS = {"concurrency": concurrency, "slow_heads": slow_heads, "idle_sockets": idle_sockets}


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"cores": os.cpu_count(), "seconds": args.seconds}
    async with seeded_database(os.environ.get("DATABASE_URL"), SeedSize(100)) as database:
        for name in args.scenarios.split(","):
            report[name] = await SCENARIOS[name](database.url, args.seconds)
            print(name, json.dumps(report[name]), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
