"""The load generator: a process of its own, so it never shares a GIL with a server.

`python -m benchmarks.loadgen` reads one JSON command per line on stdin and answers one JSON
line on stdout. A command runs `concurrency` workers, each on its own keep-alive HTTP/1.1
connection, sending POST bodies in turn (a closed loop: a worker sends its next request when
the previous answer arrived) until `duration` seconds have passed; requests started by then
are awaited, so a cell ends with the server idle. Throughput is completed requests over the
time from the start to the last answer.

The client is a minimal HTTP/1.1 one on asyncio streams rather than httpx: on two cores the
load generator competes with the server for CPU, and httpx's per-request cost is of the same
order as the floor's whole answer. Every answer is checked (status 200, no GraphQL
`errors`); the harness fails on any failure.

The harness drives it through `LoadGenerator`.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

__all__ = ["CellResult", "LoadGenerator"]


@dataclass(frozen=True)
class CellResult:
    """One measurement: a contender, a workload, a concurrency level, for `duration`."""

    completed: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    failures: int
    first_failure: str | None

    @property
    def requests_per_second(self) -> float:
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0


class LoadGenerator:
    """The load generator process, started and stopped by `async with LoadGenerator()`."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def run(
        self,
        *,
        host: str,
        port: int,
        bodies: list[str],
        concurrency: int,
        duration: float,
        headers: Sequence[tuple[str, str]] = (),
    ) -> CellResult:
        """Drive the server at host:port with `concurrency` workers for `duration` seconds."""
        if self._process is None:
            raise RuntimeError("Use the load generator inside `async with LoadGenerator()`.")
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        command = {
            "host": host,
            "port": port,
            "bodies": bodies,
            "concurrency": concurrency,
            "duration": duration,
            "headers": [list(header) for header in headers],
        }
        self._process.stdin.write(json.dumps(command).encode() + b"\n")
        await self._process.stdin.drain()
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError("The load generator process exited; see its stderr above.")
        return CellResult(**json.loads(line))


# --- the load generator process ---------------------------------------------------------


class _BadResponse(Exception):
    pass


def _request(host: str, port: int, body: str, headers: Sequence[Sequence[str]] = ()) -> bytes:
    payload = body.encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n{extra}"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bytes:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head[9:12]
    length = -1
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length < 0:
        raise _BadResponse("an answer without Content-Length")
    body = await reader.readexactly(length)
    if status != b"200":
        raise _BadResponse(f"HTTP {status.decode()}: {body[:300]!r}")
    if b'"errors"' in body:
        raise _BadResponse(f"GraphQL errors: {body[:300]!r}")
    return body


@dataclass
class _Tally:
    latencies: list[float]
    failures: int = 0
    first_failure: str | None = None
    last_answer: float = 0.0


async def _worker(
    host: str, port: int, requests: list[bytes], first: int, deadline: float, tally: _Tally
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = first
    try:
        while time.perf_counter() < deadline:
            request = requests[index % len(requests)]
            index += 1
            started = time.perf_counter()
            try:
                await _exchange(reader, writer, request)
            except (_BadResponse, asyncio.IncompleteReadError, ConnectionError) as error:
                tally.failures += 1
                tally.first_failure = tally.first_failure or str(error)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            finished = time.perf_counter()
            tally.latencies.append(finished - started)
            tally.last_answer = max(tally.last_answer, finished)
    finally:
        writer.close()


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def _run_cell(command: dict[str, Any]) -> dict[str, Any]:
    host, port = command["host"], command["port"]
    headers = command.get("headers", [])
    requests = [_request(host, port, body, headers) for body in command["bodies"]]
    concurrency: int = command["concurrency"]
    tally = _Tally(latencies=[])
    started = time.perf_counter()
    deadline = started + command["duration"]
    spacing = max(1, len(requests) // concurrency)
    await asyncio.gather(
        *(
            _worker(host, port, requests, worker * spacing, deadline, tally)
            for worker in range(concurrency)
        )
    )
    latencies = sorted(tally.latencies)
    return {
        "completed": len(latencies),
        "elapsed": max(tally.last_answer - started, 0.0),
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "failures": tally.failures,
        "first_failure": tally.first_failure,
    }


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        try:
            result = await _run_cell(json.loads(line))
        except (OSError, _BadResponse, asyncio.IncompleteReadError) as error:
            result = {
                "completed": 0,
                "elapsed": 0.0,
                "p50_ms": math.nan,
                "p99_ms": math.nan,
                "failures": 1,
                "first_failure": f"{type(error).__name__}: {error}",
            }
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(_serve())
